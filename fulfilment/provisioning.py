"""Provisioning: buy the eSIMs of a paid (or reserved) order, exactly once.

One attempt has three steps, each safe to crash in:

1. Claim (own transaction): an order in `provisioning` whose lease is free gets a lease and
   `provisioning_attempts + 1`. Committed before the provider is called, so a crash later
   leaves the trace "an attempt may have bought". A worker renews its lease while the
   attempt runs (a heartbeat every third of LEASE); a worker that is killed stops renewing,
   so its order is free again within LEASE and the re-drive (every 30 s) sends it on.
2. Buy (no transaction open): on any attempt after the first, ask the provider first
   (`find_order(reference)` / `get_order(provider_reference)`) and only order when it has
   nothing for our reference.
3. Settle (own transaction, order row locked, status re-checked): store the eSIMs and
   complete (capture the vendor's hold or record the cost, email, webhook), or fail
   (refund or void, webhook). Transient errors release the lease and retry with backoff;
   the order records when that retry is due, so the re-drive leaves it alone until then.
"""

from __future__ import annotations

import logging
import math
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest, Now
from django.utils import timezone

from billing.services import vendor_order_capture, vendor_order_void
from catalogue.models import Bundle
from fulfilment.lock_objects import esim_qs_select_for_update
from fulfilment.models import Esim
from fulfilment.notifications import order_completed_notify, order_failed_notify
from fulfilment.routing import Route, client_for, esim_provider, route_code, routes_for
from fulfilment.state import ESIM_STATES, esim_transition
from fulfilment.stock.models import StockBatch, StockEsim
from fulfilment.stock.services import stock_esims_take
from ledger.services import order_cost_record, stock_sale_cost_record
from orders.lock_objects import order_qs_select_for_update
from orders.models import Order
from orders.receivers import order_refund_recorded, order_refund_settle
from orders.selectors import order_rows_known
from orders.services import order_tax_book
from orders.state import order_transition
from payments.selectors import payment_fully_refunded
from providers import (
    CircuitOpen,
    Provider,
    ProviderError,
    ProviderOrder,
    ProviderUnavailable,
    get_provider,
)
from ttelgo.money import Money
from ttelgo.outbox import task_enqueue
from ttelgo.queues import PROVISIONING, queue_for

logger = logging.getLogger(__name__)
S = Order.Status

# How long a claim holds without a heartbeat: what a killed worker costs its order.
LEASE = timedelta(seconds=getattr(settings, "ORDERS_PROVISION_LEASE_SECONDS", 45))
HEARTBEAT_SECONDS = LEASE.total_seconds() / 3
# A retry this late past its due time was lost (its worker died holding it): re-drive it.
RETRY_LOST_AFTER = timedelta(seconds=60)
MAX_ATTEMPTS: int = getattr(settings, "ORDERS_PROVISION_MAX_ATTEMPTS", 10)
RETRY_BASE_SECONDS: int = settings.ORDERS_PROVISION_RETRY_BASE_SECONDS
RETRY_MAX_SECONDS: int = settings.ORDERS_PROVISION_RETRY_MAX_SECONDS
PROCESSING_RECHECK_SECONDS = 30


@dataclass(frozen=True)
class Outcome:
    """What an attempt did: completed | failed | retry | busy | skipped."""

    result: str
    countdown: int = 0
    reason: str = ""


REFERENCE_PREFIX = "ttelgo-order-"


def provider_reference_for(order_id: int) -> str:
    """Our reference at the provider: deterministic, so a re-run finds what a crash left."""
    return f"{REFERENCE_PREFIX}{order_id}"


def order_id_from_provider_reference(reference: str) -> int | None:
    """The order id in one of our references (a provider echoes it back), or None."""
    tail = reference.removeprefix(REFERENCE_PREFIX)
    return int(tail) if tail != reference and tail.isdigit() else None


# How long an order waits when our circuit breaker refuses the provider (its reset
# timeout is 60 s): about when the breaker lets a probe through again.
CIRCUIT_WAIT_SECONDS = 30


def retry_countdown(attempt: int, *, retry_after: float | None = None) -> int:
    """Exponential backoff with full jitter; never shorter than what the provider asked."""
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)  # jitter, not security
    return math.ceil(max(delay, retry_after or 0))


def order_provision_run(*, order_id: int, task: Any = None) -> Outcome:
    """Run provisioning for an order; with a Celery `task`, schedule the retry it needs.

    Eager Celery (the embedded default, tests) cannot wait for a countdown: there the
    retries run at once, in this call, and an order the provider is still processing stays
    in `provisioning` for the re-drive job."""
    if task is None:
        return order_provision_attempt(order_id=order_id)
    if task.request.is_eager:
        return _run_inline(order_id=order_id, retries=task.max_retries or 0)
    final = _is_final(task)
    outcome = order_provision_attempt(order_id=order_id, final=final, heartbeat=True)
    if outcome.result in ("retry", "busy") and not final:
        raise task.retry(countdown=outcome.countdown)
    return outcome  # out of retries while busy/processing: the re-drive job takes over


def _run_inline(*, order_id: int, retries: int) -> Outcome:
    outcome = Outcome("skipped")
    for attempt in range(retries + 1):
        outcome = order_provision_attempt(order_id=order_id, final=attempt == retries)
        if outcome.result != "retry" or outcome.reason == "processing":
            break
    return outcome


def _is_final(task: Any) -> bool:
    """The task has no retry left: a transient failure now must fail the order rather
    than leave it waiting (the re-drive job still covers a worker that died)."""
    return bool(task.request.retries >= (task.max_retries or 0))


def order_provision_attempt(
    *, order_id: int, final: bool = False, heartbeat: bool = False
) -> Outcome:
    """One attempt (see the module docstring). `final`: a transient failure fails the
    order. An order past MAX_ATTEMPTS fails on a transient error too. `heartbeat`: renew
    the lease from a thread while the attempt runs (a worker; not eager runs). An order
    no attempt has sent to the provider yet is first offered to stock (no provider call:
    `order_stock_deliver`)."""
    if order_stock_deliver(order_id=order_id):
        return Outcome("completed", reason="from stock")
    order = _claim(order_id)
    if order is None:
        current = Order.objects.filter(pk=order_id).values_list("status", flat=True).first()
        if current == S.PROVISIONING:
            return Outcome("busy", countdown=PROCESSING_RECHECK_SECONDS)
        return Outcome("skipped", reason=f"status {current}")
    if not heartbeat:
        return _attempt(order, final=final)
    with _lease_heartbeat(order):
        return _attempt(order, final=final)


def _attempt(order: Order, *, final: bool) -> Outcome:
    if _refunded_before_buying(order):
        return Outcome("skipped", reason="payment refunded before provisioning")
    reference = provider_reference_for(order.pk)
    item = order.items.get()
    try:
        if order.kind == Order.Kind.TOPUP:
            topup = _apply_topup(order=order, bundle_code=item.bundle_code, reference=reference)
            return _complete_topup(
                order_id=order.pk, provider_reference=topup.reference, cost=topup.cost
            )
        placed = _buy(
            order=order, bundle_code=item.bundle_code, quantity=item.quantity, reference=reference
        )
        if not placed.is_complete:
            _release(
                order.pk, provider_reference=placed.reference, due_in=PROCESSING_RECHECK_SECONDS
            )
            return Outcome("retry", countdown=PROCESSING_RECHECK_SECONDS, reason="processing")
        return _complete(order_id=order.pk, placed=placed)
    except CircuitOpen as exc:
        # Our breaker refused: no request was sent, so this was not an attempt. The
        # order waits for the breaker (never failed for it: the re-drive picks it up
        # when due, and the delivery guarantee bounds the wait).
        countdown = max(
            CIRCUIT_WAIT_SECONDS,
            retry_countdown(order.provisioning_attempts, retry_after=exc.retry_after),
        )
        _release(order.pk, due_in=countdown, not_an_attempt=True)
        logger.info("provisioning of order %s waits for the circuit: %s", order.pk, exc.message)
        return Outcome("retry", countdown=countdown, reason=f"{exc.code}: circuit open")
    except ProviderError as exc:
        reason = f"{exc.code}: {exc.message}"
        if exc.transient and not final and order.provisioning_attempts < MAX_ATTEMPTS:
            countdown = retry_countdown(order.provisioning_attempts, retry_after=exc.retry_after)
            _release(order.pk, due_in=countdown)
            logger.info("provisioning of order %s will retry: %s", order.pk, reason)
            return Outcome("retry", countdown=countdown, reason=reason)
        failure = reason
    except Exception:
        _release(order.pk)
        raise
    try:
        return order_provision_fail(order_id=order.pk, reason=failure)
    except Exception:
        _release(order.pk)  # e.g. the refund could not be made: try again later
        raise


def _claim(order_id: int) -> Order | None:
    """Step 1. Durable: the claim must be committed before the provider is asked, so a
    caller holding a transaction open around an attempt fails here (RuntimeError)."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        claimed = (
            Order.objects.filter(pk=order_id, status=S.PROVISIONING)
            .filter(Q(provisioning_lease_until__isnull=True) | Q(provisioning_lease_until__lt=now))
            .update(
                provisioning_lease_until=now + LEASE,
                provisioning_due_at=None,
                provisioning_queued_until=None,  # its queued task runs: the lease takes over
                provisioning_attempts=F("provisioning_attempts") + 1,
                updated_at=now,
            )
        )
    return Order.objects.get(pk=order_id) if claimed else None


@contextmanager
def _lease_heartbeat(order: Order) -> Iterator[None]:
    """Renew the claim's lease every HEARTBEAT_SECONDS while the block runs, from a thread
    with its own connection. Compare-and-set on the lease it last wrote: once the attempt
    released or settled the order (or, stalled past its lease, lost it), it stops."""
    stop = threading.Event()

    def renew(lease: Any) -> None:
        try:
            while not stop.wait(HEARTBEAT_SECONDS):
                extended = timezone.now() + LEASE
                kept = Order.objects.filter(
                    pk=order.pk, status=S.PROVISIONING, provisioning_lease_until=lease
                ).update(provisioning_lease_until=extended)
                if not kept:
                    return
                lease = extended
        except Exception:  # the attempt goes on; a lapsed lease only risks a busy re-drive
            logger.warning("lease heartbeat of order %s stopped", order.pk, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(
        target=renew, args=(order.provisioning_lease_until,), daemon=True, name="lease-heartbeat"
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def _release(
    order_id: int,
    *,
    provider_reference: str = "",
    due_in: int | None = None,
    not_an_attempt: bool = False,
) -> None:
    """Give the lease back; with `due_in`, the seconds until the scheduled retry;
    `not_an_attempt`: the claim's attempt is given back (nothing reached the provider)."""
    fields: dict[str, Any] = {"provisioning_lease_until": None}
    if not_an_attempt:
        fields["provisioning_attempts"] = Greatest(F("provisioning_attempts") - 1, 0)
    if provider_reference:
        fields["provider_reference"] = provider_reference
    if due_in is not None:
        fields["provisioning_due_at"] = timezone.now() + timedelta(seconds=due_in)
    Order.objects.filter(pk=order_id, status=S.PROVISIONING).update(**fields)


def _provider(name: str, livemode: bool) -> Provider:
    """The client of provider `name` (the default one through `get_provider(livemode)`,
    as it always was fetched)."""
    return client_for(name, livemode, get_provider)


def _buy(*, order: Order, bundle_code: str, quantity: int, reference: str) -> ProviderOrder:
    """Find, else buy, on the routes of the sale (fulfilment/routing.py), never twice.

    Every provider an attempt ever asked to order (`providers_sent`) is asked first for an
    order under our reference; while one of them cannot answer, the error stands and the
    order waits: another provider is tried only once each one that may have bought says
    it has nothing. Then the routes are tried in turn; a provider that refuses without
    buying (`skip_provider`) passes the sale to the next one."""
    if order.provider_reference:
        return _ours(
            _provider(order.provider, order.livemode).get_order(order.provider_reference),
            bundle_code,
        )
    sent = list(order.providers_sent)
    if order.provider_order_sent_at is not None and not sent:
        sent = [order.provider or (settings.ESIM_PROVIDER if order.livemode else "sandbox")]
    if order.provider_order_sent_at is not None:
        # An earlier attempt asked these providers to order: any may have bought before
        # it timed out or died. Never order twice.
        for name in sent:
            found = _provider(name, order.livemode).find_order(
                reference,
                since=order.provider_order_sent_at,
                bundle_code=route_code(bundle_code=bundle_code, provider=name),
                quantity=quantity,
                adoptable=provider_reference_unclaimed,
            )
            if found is not None:
                _provider_reference_keep(order.pk, found.reference, provider=name)
                return _ours(found, bundle_code)
    routes = routes_for(bundle_code=bundle_code, livemode=order.livemode)
    refused: ProviderError | None = None
    for route in routes:
        client = _provider(route.provider, order.livemode)
        # Written before the call: an attempt that dies during it leaves the mark behind.
        sent = [*(n for n in sent if n != route.provider), route.provider]
        Order.objects.filter(pk=order.pk).update(
            provider_order_sent_at=Coalesce(F("provider_order_sent_at"), Now()),
            providers_sent=sent,
            provider=route.provider,
            provider_route=_route_reason(route, refused),
        )
        try:
            placed = client.create_order(
                bundle_code=route.code, quantity=quantity, reference=reference
            )
        except ProviderError as exc:
            if not exc.skip_provider:
                raise  # it may have bought (a timeout): the next attempt finds first
            # It surely did not buy: no need to ask it later.
            sent = [n for n in sent if n != route.provider]
            Order.objects.filter(pk=order.pk).update(providers_sent=sent)
            logger.info("order %s: %s cannot deliver (%s)", order.pk, route.provider, exc.message)
            refused = exc
            continue
        # Keep the provider's id at once: a crash before settling then re-reads, not re-buys.
        _provider_reference_keep(order.pk, placed.reference, provider=route.provider)
        return _ours(placed, bundle_code)
    if refused is None:
        raise ProviderUnavailable(f"no enabled provider offers {bundle_code}")
    raise refused


def _route_reason(route: Route, refused: ProviderError | None) -> str:
    reason = f"{route.reason} ({route.code} at {route.cost_amount} {route.currency})".strip()
    if refused is not None:
        reason += f"; after {refused.code}"
    return reason[:200]


def _ours(placed: ProviderOrder, bundle_code: str) -> ProviderOrder:
    """The provider's order under our product code (what our eSIMs and webhooks say)."""
    return replace(placed, bundle_code=bundle_code) if placed.bundle_code != bundle_code else placed


def provider_reference_unclaimed(provider_reference: str) -> bool:
    """No order holds this provider reference yet, and it did not buy stock: an order
    found at the provider under it may be adopted."""
    return (
        not Order.objects.filter(provider_reference=provider_reference).exists()
        and not StockEsim.objects.filter(provider_reference=provider_reference).exists()
        and not StockBatch.objects.filter(provider_reference=provider_reference).exists()
    )


def _provider_reference_keep(order_id: int, provider_reference: str, *, provider: str = "") -> None:
    """Record the provider's order on ours. Unique per provider order: if another of our
    orders adopted the same orphan meanwhile, this attempt backs off and retries."""
    fields: dict[str, Any] = {"provider_reference": provider_reference}
    if provider:
        fields["provider"] = provider
    try:
        with transaction.atomic():
            Order.objects.filter(pk=order_id).update(**fields)
    except IntegrityError:
        raise ProviderUnavailable(
            f"provider order {provider_reference} was taken by another order; looking again"
        ) from None


@dataclass(frozen=True)
class _Topup:
    reference: str
    cost: Money | None


def _apply_topup(*, order: Order, bundle_code: str, reference: str) -> _Topup:
    if order.provider_reference:
        return _Topup(order.provider_reference, None)  # applied before a crash
    if order.provisioning_attempts > 1:
        # An earlier attempt may have applied the bundle and died before saving the
        # provider's answer: look at the eSIM before applying it again.
        applied = _topup_found_on_esim(order=order, bundle_code=bundle_code)
        if applied is not None:
            Order.objects.filter(pk=order.pk).update(provider_reference=applied)
            return _Topup(applied, None)
    # A top-up goes to the provider that issued the eSIM, under its code for the product.
    issuer = esim_provider(order.target_iccid)
    Order.objects.filter(pk=order.pk).update(
        provider=issuer, provider_route="issuer of the eSIM" if issuer else ""
    )
    result = _provider(issuer, order.livemode).apply_topup(
        iccid=order.target_iccid,
        bundle_code=route_code(bundle_code=bundle_code, provider=issuer) if issuer else bundle_code,
        reference=reference,
    )
    Order.objects.filter(pk=order.pk).update(provider_reference=result.reference)
    return _Topup(result.reference, result.cost)


def _topup_found_on_esim(*, order: Order, bundle_code: str) -> str | None:
    """The provider's reference of a `bundle_code` assignment on the order's eSIM made
    since the order was created and not already claimed by another top-up order, if any.
    Top-ups carry no client reference upstream, so assignments are counted instead."""
    since = order.created_at
    assigned = [
        usage
        for usage in _provider(esim_provider(order.target_iccid), order.livemode).get_usage(
            order.target_iccid
        )
        if usage.bundle_code == bundle_code
        and usage.assigned_at is not None
        and usage.assigned_at >= since
    ]
    claimed = (
        Order.objects.filter(
            kind=Order.Kind.TOPUP,
            target_iccid=order.target_iccid,
            items__bundle_code=bundle_code,
            updated_at__gte=since,
        )
        .exclude(pk=order.pk)
        .exclude(provider_reference="")
        .count()
    )
    if len(assigned) <= claimed:
        return None
    latest = assigned[-1]
    return latest.reference or f"assignment:{order.target_iccid}:{latest.assigned_at:%s}"


def _bundle_facts(code: str) -> tuple[int, bool, int]:
    bundle = (
        Bundle.objects.filter(code=code).values("data_mb", "unlimited", "validity_days").first()
    )
    if bundle is None:
        return 0, False, 0
    return bundle["data_mb"], bundle["unlimited"], bundle["validity_days"]


def _locked_provisioning(order_id: int) -> Order | None:
    order = order_qs_select_for_update().get(pk=order_id)
    return order if order.status == S.PROVISIONING else None


def _complete(*, order_id: int, placed: ProviderOrder) -> Outcome:
    with transaction.atomic():
        order = _locked_provisioning(order_id)
        if order is None:
            return Outcome("skipped", reason="settled meanwhile")
        data_mb, unlimited, validity_days = _bundle_facts(placed.bundle_code)
        expires = timezone.now() + timedelta(days=validity_days) if validity_days else None
        known = set(Esim.objects.filter(order=order).values_list("iccid", flat=True))
        Esim.objects.bulk_create(
            [
                Esim(
                    iccid=e.iccid,
                    order=order,
                    livemode=order.livemode,
                    bundle_code=placed.bundle_code,
                    smdp_address=e.smdp_address,
                    matching_id=e.matching_id,
                    initial_mb=data_mb,
                    remaining_mb=data_mb,
                    unlimited=unlimited,
                    expires_at=expires,
                )
                for e in placed.esims[: order.items.get().quantity]
                if e.iccid not in known
            ]
        )
        cost = placed.total if placed.total is not None else order.cost
        order = _settle_money_and_complete(
            order=order, provider_reference=placed.reference, cost=cost
        )
        if not _completed_notify(order):
            return Outcome("completed", reason="refunded while provisioning")
    return Outcome("completed")


def _topup_rows(
    esim: Esim, bundle_code: str, data_mb: int, unlimited: bool, now: datetime
) -> list[dict[str, Any]]:
    """The eSIM's bundles with a top-up's added: queued behind a bundle still in use,
    else active at once."""
    rows = [dict(r) for r in (esim.bundles or [])]
    in_use = any(r.get("state") in ("active", "queued", "processing") for r in rows)
    rows.append(
        {
            "bundle_code": bundle_code,
            "state": "queued" if in_use else "active",
            "initial_mb": 0 if unlimited else data_mb,
            "remaining_mb": 0 if unlimited else data_mb,
            "used_mb": 0,
            "unlimited": unlimited,
            "assigned_at": now.isoformat(),
            "expires_at": None,
        }
    )
    return rows


def _complete_topup(*, order_id: int, provider_reference: str, cost: Money | None) -> Outcome:
    with transaction.atomic():
        order = _locked_provisioning(order_id)
        if order is None:
            return Outcome("skipped", reason="settled meanwhile")
        item = order.items.get()
        data_mb, unlimited, validity_days = _bundle_facts(item.bundle_code)
        esim = esim_qs_select_for_update().get(iccid=order.target_iccid)
        now = timezone.now()
        start = max(esim.expires_at or now, now)
        Esim.objects.filter(pk=esim.pk).update(
            bundle_code=item.bundle_code,
            initial_mb=F("initial_mb") + data_mb,
            remaining_mb=F("remaining_mb") + data_mb,
            unlimited=esim.unlimited or unlimited,
            expires_at=start + timedelta(days=validity_days) if validity_days else esim.expires_at,
            # The data section lists the new bundle next to the others, as of now (the
            # provider's next report replaces these rows with its own). Bundles never
            # reported stay unknown: the next view asks the provider for all of them.
            **(
                {
                    "bundles": _topup_rows(esim, item.bundle_code, data_mb, unlimited, now),
                    "usage_updated_at": now,
                }
                if esim.bundles
                else {}
            ),
            # A new bundle re-arms the usage alerts and the depleted notice.
            events_sent=[k for k in esim.events_sent if not k.startswith(("usage:", "depleted"))],
        )
        # A new bundle brings an eSIM used before back into service (one never installed
        # stays released; a revoked one stays revoked: the table has no way back).
        if esim.status != Esim.Status.RELEASED and ESIM_STATES.can(esim.status, Esim.Status.ACTIVE):
            esim_transition(esim_id=esim.pk, to=Esim.Status.ACTIVE, expected=esim.status)
        order = _settle_money_and_complete(
            order=order,
            provider_reference=provider_reference,
            cost=cost or order.cost,
        )
        if not _completed_notify(order):
            return Outcome("completed", reason="refunded while provisioning")
    return Outcome("completed")


def _refunded_before_buying(order: Order) -> bool:
    """A customer's payment refunded in full before provisioning began (Stripe's refund
    processed after its success, before the worker got to the order): refund the order
    instead of buying. Only on the first attempt: a later one may follow an attempt that
    died after buying, and then the purchase is settled and refunded as delivered."""
    if (
        order.channel != Order.Channel.B2C
        or order.provisioning_attempts > 1
        or not payment_fully_refunded(order_id=order.pk)
    ):
        return False
    return order_refund_settle(order_id=order.pk, reason="payment refunded before provisioning")


def _refunded_meanwhile(order: Order) -> bool:
    """A customer's payment refunded in full while its order was provisioning (the
    refund could not move an order mid-purchase): the delivered order is refunded at
    once, in the same transaction, so it never stands completed on a refunded payment."""
    if order.channel != Order.Channel.B2C or not payment_fully_refunded(order_id=order.pk):
        return False
    order_refund_recorded(
        order_id=order.pk, fully_refunded=True, reason="payment refunded while provisioning"
    )
    return True


def _completed_notify(order: Order) -> bool:
    """The vendor's webhook and the customer's email of a completed order, unless its
    payment was refunded meanwhile (then it is refunded at once instead): False."""
    if _refunded_meanwhile(order):
        return False
    order_completed_notify(order=order)
    return True


def _settle_money_and_complete(
    *, order: Order, provider_reference: str, cost: Money, from_stock: bool = False
) -> Order:
    """Charge the buyer and book what the eSIMs cost, then complete the order. Bought now,
    the cost is owed to the provider (`order_cost_record`); `from_stock`, it was paid
    when the stock was bought and moves from inventory to cost of sales."""
    bundle_code = order.items_listed[0].bundle_code
    if order.channel == Order.Channel.B2B:
        # The vendor's reservation becomes the charge; the cost of goods is posted with it.
        # The bundle code rides along so postpaid invoices can show lines per bundle.
        vendor_order_capture(
            order_id=order.pk,
            cost=None if from_stock else cost,
            metadata={"bundle_code": bundle_code},
        )
        order_tax_book(order=order)
    elif cost.amount > 0 and not from_stock:
        order_cost_record(cost=cost, reference=f"order:{order.pk}:cost", order_id=order.pk)
    if from_stock and cost.amount > 0:
        stock_sale_cost_record(
            cost=cost,
            reference=f"order:{order.pk}:stock_cost",
            order_id=order.pk,
            livemode=order.livemode,
        )
    return order_transition(
        order_id=order.pk,
        to=S.COMPLETED,
        expected=S.PROVISIONING,
        reason=(
            "eSIMs delivered from stock"
            if from_stock
            else "eSIMs delivered"
            if order.kind == Order.Kind.ESIM
            else "top-up applied"
        ),
        provider_reference=provider_reference,
        cost_total=cost.amount,
        cost_currency="" if cost.currency == order.currency else cost.currency,
        provisioning_lease_until=None,
        provisioning_queued_until=None,
    )


# --- sale from stock --------------------------------------------------------------------


def order_complete_from_stock(*, order: Order) -> Order | None:
    """Inside the transaction that holds `order` in provisioning (just created, or its row
    locked): take its eSIMs from stock and complete it as provisioning does (the buyer
    charged, the stock cost moved from inventory to cost of sales, the webhook and emails
    queued), with the eSIMs' tagging at the provider queued after commit. Returns the
    completed order with its rows known, or None: stock cannot fill it and nothing was
    written. No provider call."""
    if order.status != S.PROVISIONING or order.kind != Order.Kind.ESIM:
        return None
    taken = stock_esims_take(order=order)
    if taken is None:
        return None
    completed = _settle_money_and_complete(
        order=order, provider_reference="", cost=taken.cost, from_stock=True
    )
    order_rows_known(completed, items=order.items_listed, esims=taken.esims)
    task_enqueue(
        "fulfilment.tasks.stock_order_tag",
        order.pk,
        queue=queue_for(PROVISIONING, livemode=order.livemode),
    )
    _completed_notify(completed)
    return completed


def order_stock_deliver(*, order_id: int) -> bool:
    """The provisioning task's first step: an order in provisioning that no attempt has
    sent to the provider (and none holds a lease on) is delivered from stock when stock
    holds it. A customer's payment refunded in full meanwhile is left to provisioning (it
    refunds the order before buying). True when delivered."""
    with transaction.atomic():
        order = order_qs_select_for_update().get(pk=order_id)
        if (
            order.status != S.PROVISIONING
            or order.kind != Order.Kind.ESIM
            or order.provider_order_sent_at is not None
            or order.provider_reference
            or (
                order.provisioning_lease_until is not None
                and order.provisioning_lease_until > timezone.now()
            )
        ):
            return False
        if order.channel == Order.Channel.B2C and payment_fully_refunded(order_id=order.pk):
            return False
        return order_complete_from_stock(order=order) is not None


def order_provision_fail(*, order_id: int, reason: str, actor: Any = None) -> Outcome:
    """Fail a provisioning order for good: the order fails with the reason and, in the
    same transaction, the customer's payment is refunded or the vendor's hold voided. The
    transition comes first, so this happens once whoever calls it twice."""
    with transaction.atomic():
        order = _locked_provisioning(order_id)
        if order is None:
            return Outcome("skipped", reason="settled meanwhile")
        order = order_transition(
            order_id=order_id,
            to=S.FAILED,
            expected=S.PROVISIONING,
            actor=actor,
            reason=f"provisioning failed: {reason}",
            failure_reason=reason[:1000],
            provisioning_lease_until=None,
        )
        if order.channel == Order.Channel.B2B:
            vendor_order_void(order_id=order_id)
        else:  # the card refund leaves after this commits (no gateway call in here)
            task_enqueue(
                "payments.tasks.order_payment_refund", order_id, f"provisioning failed: {reason}"
            )
        order_failed_notify(order=order)
    logger.warning("order %s failed: %s", order_id, reason)
    return Outcome("failed", reason=reason)
