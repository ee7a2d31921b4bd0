"""What brings an order that provisioning left behind to an end, run by beat:

- the re-drive (`orders_redrive_stuck`, every 30 s): an order nobody holds whose retry is
  overdue and whose task is not queued already is queued again; `paid` orders left
  behind are released to provisioning; an order past ESCALATE_AFTER_ATTEMPTS is reported
  to the operators;
- the delivery guarantee (`orders_delivery_guarantee`): an eSIM order still provisioning
  ESIM_DELIVERY_GUARANTEE_MINUTES after it started is failed and refunded, unless the
  provider delivered it meanwhile (then it completes);
- late deliveries (`orders_late_deliveries_revoke`): what the provider delivers for an
  order the guarantee failed is revoked there and never reaches anyone.

Each claims its orders in its own durable transaction before it asks the provider, as
provisioning does (fulfilment/provisioning.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from fulfilment.provider_refunds import provider_refund_expect
from fulfilment.provisioning import (
    LEASE,
    RETRY_LOST_AFTER,
    _release,
    order_provision_fail,
    provider_reference_for,
    provider_reference_unclaimed,
)
from fulfilment.routing import client_for, route_code
from ledger.services import order_cost_record
from orders.lock_objects import order_qs_select_for_update
from orders.models import Order, OrderEvent
from orders.services import (
    order_queued_until,
    order_release_to_provisioning,
)
from orders.state import order_event_record
from providers import (
    Provider,
    ProviderError,
    ProviderNotFound,
    ProviderOrder,
    get_provider,
)
from ttelgo.money import Money
from ttelgo.ops_email import ops_email_send
from ttelgo.outbox import task_enqueue
from ttelgo.queues import (
    PROVISIONING,
    queue_for,
    queued_marker_lost,
    queued_marker_void,
    queues_epoch,
)

logger = logging.getLogger(__name__)

S = Order.Status
ESCALATE_AFTER_ATTEMPTS: int = getattr(settings, "ORDERS_ESCALATE_AFTER_ATTEMPTS", 5)


def orders_delivery_guarantee(*, now: datetime | None = None) -> list[int]:
    """Beat job: an eSIM order still provisioning ESIM_DELIVERY_GUARANTEE_MINUTES (60)
    after it started is failed and refunded (card) or released (vendor hold). The job
    takes the order's lease (so no attempt runs meanwhile) and asks the provider first:
    an order it delivered is left to the re-drive (it completes at once); one it is still
    processing is failed and marked `revoke_on_arrival`, so what arrives later is taken
    back (`orders_late_deliveries_revoke`); one it cannot answer about waits. Returns the
    ids failed."""
    now = now or timezone.now()
    minutes = settings.ESIM_DELIVERY_GUARANTEE_MINUTES
    entered = OrderEvent.objects.filter(order=OuterRef("pk"), to_status=S.PROVISIONING)
    late = (
        Order.objects.filter(status=S.PROVISIONING, kind=Order.Kind.ESIM)
        .annotate(
            provisioning_since=Subquery(entered.order_by("created_at").values("created_at")[:1])
        )
        .filter(provisioning_since__lt=now - timedelta(minutes=minutes))
        .values_list("pk", flat=True)
    )
    failed: list[int] = []
    for order_id in late:
        with transaction.atomic(durable=True):  # committed before the provider is asked
            claimed = (
                Order.objects.filter(pk=order_id, status=S.PROVISIONING)
                .filter(
                    Q(provisioning_lease_until__isnull=True) | Q(provisioning_lease_until__lt=now)
                )
                .update(provisioning_lease_until=now + LEASE)
            )
        if not claimed:
            continue  # an attempt is working on it right now
        order = Order.objects.get(pk=order_id)
        try:
            held = _provider_order(order)
        except ProviderError as exc:
            logger.info("delivery guarantee of order %s: provider unsure (%s)", order_id, exc)
            _release(order_id)  # not sure: never refund what may have been delivered
            continue
        if held is not None and held.status == ProviderOrder.STATUS_COMPLETED:
            _release(order_id)  # delivered: the next attempt completes it
            continue
        outcome = order_provision_fail(
            order_id=order_id,
            reason=f"not delivered within {minutes} minutes: refunded (delivery guarantee)",
        )
        if outcome.result != "failed":
            continue
        if held is not None and held.status == ProviderOrder.STATUS_PROCESSING:
            Order.objects.filter(pk=order_id).update(
                revoke_on_arrival=True, provider_reference=held.reference
            )
        failed.append(order_id)
    return failed


def _provider_order(order: Order) -> ProviderOrder | None:
    """The provider's order for ours (delivered or still processing), or None: asked of
    the provider that holds it, else of every provider an attempt asked to order."""
    if order.provider_reference:
        return _client(order.provider, order.livemode).get_order(order.provider_reference)
    if order.provider_order_sent_at is None:
        return None  # never asked to buy
    item = order.items.get()
    for name in order.providers_sent or [order.provider]:
        found = _client(name, order.livemode).find_order(
            provider_reference_for(order.pk),
            since=order.provider_order_sent_at,
            bundle_code=route_code(bundle_code=item.bundle_code, provider=name),
            quantity=item.quantity,
            adoptable=provider_reference_unclaimed,
        )
        if found is not None:
            if name != order.provider:
                Order.objects.filter(pk=order.pk).update(provider=name)
            return found
    return None


def _client(name: str, livemode: bool) -> Provider:
    return client_for(name, livemode, get_provider)


def orders_late_deliveries_revoke() -> list[int]:
    """Beat job: orders the guarantee refunded while the provider was still processing
    them. Once the provider delivers, each eSIM is revoked there (refunded to our balance)
    and nobody receives it; the cost it charged is booked and owed back to us until the
    refund arrives. A provider order that failed needs nothing. Each order is taken with
    its lease (a compare-and-set), so runs that overlap ask the provider once. Returns the
    ids done."""
    done: list[int] = []
    now = timezone.now()
    late = Order.objects.filter(revoke_on_arrival=True, status=S.FAILED)
    for order_id in late.values_list("pk", flat=True):
        with transaction.atomic(durable=True):  # committed before the provider is asked
            claimed = (
                late.filter(pk=order_id)
                .filter(
                    Q(provisioning_lease_until__isnull=True) | Q(provisioning_lease_until__lt=now)
                )
                .update(provisioning_lease_until=now + LEASE)
            )
        if not claimed:
            continue  # another run is on it, or has just done it
        order = Order.objects.get(pk=order_id)
        try:
            held = _provider_order(order)
            if held is not None and held.status == ProviderOrder.STATUS_PROCESSING:
                _late_lease_return(order_id)
                continue
            if held is not None:
                _provider_revoke_all(
                    held, livemode=order.livemode, provider=Order.objects.get(pk=order.pk).provider
                )
        except ProviderError as exc:
            logger.info("late delivery of order %s not revoked yet: %s", order.pk, exc)
            _late_lease_return(order_id)
            continue
        _late_delivery_record(order, held)
        done.append(order.pk)
    return done


def _late_lease_return(order_id: int) -> None:
    Order.objects.filter(pk=order_id).update(provisioning_lease_until=None)


def _provider_revoke_all(held: ProviderOrder, *, livemode: bool, provider: str = "") -> None:
    for install in held.esims:
        try:
            _client(provider, livemode).revoke_bundle(
                iccid=install.iccid, bundle_code=held.bundle_code
            )
        except ProviderNotFound:
            pass  # revoked by an earlier run


def _late_delivery_record(order: Order, held: ProviderOrder | None) -> None:
    with transaction.atomic():
        locked = order_qs_select_for_update().get(pk=order.pk)
        if not locked.revoke_on_arrival:
            return
        item = locked.items.get()
        iccids = [e.iccid for e in held.esims] if held is not None else []
        for iccid in iccids:
            cost = Money(item.unit_cost, item.currency)
            if cost.amount > 0:
                order_cost_record(
                    cost=cost, reference=f"order:{order.pk}:late:{iccid}", order_id=order.pk
                )
            provider_refund_expect(
                order=locked, iccid=iccid, bundle_code=item.bundle_code, cost=cost
            )
        Order.objects.filter(pk=order.pk).update(
            revoke_on_arrival=False, provisioning_lease_until=None
        )
        order_event_record(
            order=locked,
            from_status=locked.status,
            to_status=locked.status,
            actor=None,
            reason=(
                f"delivered late by the provider ({', '.join(iccids)}): revoked there"
                if iccids
                else "the provider never delivered it"
            ),
        )


@dataclass(frozen=True)
class RedriveResult:
    released: list[int]
    redriven: list[int]
    escalated: list[int]


def orders_redrive_stuck(
    *, older_than: timedelta = timedelta(seconds=60), batch: int = 500
) -> RedriveResult:
    """Orders untouched for `older_than` in `paid` or `provisioning` that nobody is working
    on (a lost task, a dead worker, a retry its worker died holding): `paid` ones go on to
    provisioning; `provisioning` ones whose lease is free, whose scheduled retry, if any,
    is more than RETRY_LOST_AFTER overdue and whose queued marker is void (ttelgo/queues.py:
    not queued within its lease, or queued before the broker lost its data or a worker
    started) are queued again, at most `batch` per run; those with
    ESCALATE_AFTER_ATTEMPTS attempts behind them are also reported to operations, once.

    Queued once per lease: the orders are selected `FOR UPDATE SKIP LOCKED` and marked in
    the same transaction, so sweeps running at once never queue one order twice. Runs
    every 30 s on its own queue (`recovery`), never behind the provisioning backlog."""
    cutoff = timezone.now() - older_than
    released: list[int] = []
    for order_id in Order.objects.filter(status=S.PAID, updated_at__lt=cutoff).values_list(
        "pk", flat=True
    ):
        try:
            order_release_to_provisioning(order_id=order_id, reason="re-driven: stuck in paid")
            released.append(order_id)
        except Exception:  # one bad order must not stop the sweep
            logger.exception("re-drive of paid order %s failed", order_id)

    now = timezone.now()
    lease = timedelta(seconds=settings.ORDERS_QUEUED_LEASE_SECONDS)
    epoch = queues_epoch()
    # Untouched for `older_than`, or queued before the broker lost its queues (no need to
    # wait then: the task is known to be gone).
    quiet = Q(updated_at__lt=cutoff) | queued_marker_lost(
        "provisioning_queued_until", lease=lease, epoch=epoch
    )
    stuck = (
        order_qs_select_for_update(skip_locked=True)
        .filter(quiet, status=S.PROVISIONING)
        .filter(Q(provisioning_lease_until__isnull=True) | Q(provisioning_lease_until__lt=now))
        .filter(
            Q(provisioning_due_at__isnull=True) | Q(provisioning_due_at__lt=now - RETRY_LOST_AFTER)
        )
        .filter(queued_marker_void("provisioning_queued_until", lease=lease, epoch=epoch, now=now))
    )
    redriven: list[int] = []
    escalate: list[int] = []
    with transaction.atomic():
        rows = list(
            stuck.order_by("pk").values_list(
                "pk", "provisioning_attempts", "escalated_at", "livemode"
            )[:batch]
        )
        Order.objects.filter(pk__in=[row[0] for row in rows]).update(
            provisioning_queued_until=order_queued_until()
        )
        for order_id, attempts, escalated_at, livemode in rows:
            if attempts >= ESCALATE_AFTER_ATTEMPTS and escalated_at is None:
                escalate.append(order_id)
            redriven.append(order_id)
            task_enqueue(
                "fulfilment.tasks.order_provision",
                order_id,
                queue=queue_for(PROVISIONING, livemode=livemode),
            )
    if escalate:
        _escalate(escalate)
    return RedriveResult(released=released, redriven=redriven, escalated=escalate)


def _escalate(order_ids: list[int]) -> None:
    with transaction.atomic():
        marked = list(
            Order.objects.filter(pk__in=order_ids, escalated_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        Order.objects.filter(pk__in=marked).update(escalated_at=timezone.now())
        if not marked:
            return
        lines = "\n".join(f"- order {pk}" for pk in sorted(marked))
        body = (
            f"These orders are still provisioning after {ESCALATE_AFTER_ATTEMPTS} or more "
            f"attempts. Check the provider and the orders in the admin:\n{lines}\n"
        )
        ops_email_send(f"{len(marked)} order(s) stuck in provisioning", body)
