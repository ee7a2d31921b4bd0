"""Refill: buy stock for every enabled bundle below its floor, up to its target, within its
capital cap and the overall one, through the provider layer (`stock_refill_run`; the beat
job `fulfilment.tasks.stock_refill`, and an operator's "refill now").

A run has two steps:

1. Plan (one transaction, every stock setting locked): for each enabled setting whose
   level (eSIMs available + eSIMs in planned batches) is below its floor, plan batches of
   at most STOCK_REFILL_BATCH_SIZE eSIMs up to its target, as far as the bundle's
   `capital_cap` and STOCK_CAPITAL_CAP_TOTAL allow (stock held + batches planned, at the
   bundle's cost). Each batch gets its deterministic reference (`ttelgo-stock-<id>`) here,
   committed before any provider call. Runs that plan at once are serialised by the
   settings' locks, and each counts the other's batches: one shortfall is planned once.
2. Buy (no transaction open): each planned batch that is due is claimed under a lease (a
   conditional update: two runs never work one batch), then bought: a batch that was sent
   before (its call timed out, its run died) is first looked up at the provider by its
   reference (`find_order`) or its provider order (`get_order`), and ordered again only
   when the provider has nothing for it. The batch's eSIMs become `StockEsim`s with their
   install data, and its cost is booked (`stock_purchase_record`: inventory against the
   provider payable) in the one transaction that stores them.

Live provisioning first: every provider call of a refill runs in `calls_in_background`
(providers/ratelimit.py), so it takes a slot of the shared rate limit only while
STOCK_REFILL_RATE_RESERVE slots stay free for live orders. Orders are spaced
STOCK_REFILL_SPACING_SECONDS apart (eSIM Go advises a few seconds between orders), across
overlapping runs and processes: each order claims its slot in Redis first
(fulfilment/stock/spacing.py). When
the provider refuses (our breaker open, 429, 5xx, a timeout) the run stops and every
planned batch of that mode waits (exponential backoff, at least what the provider asked).
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from catalogue.models import Bundle
from fulfilment.lock_objects import (
    stock_batch_qs_select_for_update,
    stock_setting_qs_select_for_update,
)
from fulfilment.models import Esim
from fulfilment.routing import client_for, routes_for
from fulfilment.stock.levels import stock_levels
from fulfilment.stock.models import StockBatch, StockEsim, StockSetting
from fulfilment.stock.spacing import order_slot_wait
from fulfilment.stock.state import STOCK_BATCH_STATES
from ledger.services import stock_purchase_record
from orders.models import Order
from providers import EsimInstall, Provider, ProviderError, ProviderOrder, get_provider
from providers.ratelimit import calls_in_background
from ttelgo.money import Money
from ttelgo.ops_email import ops_email_send
from ttelgo.state import transition_rows

logger = logging.getLogger(__name__)
B = StockBatch.Status
K = StockEsim.Status
# A batch the provider is still processing (orders of more than 5) is read again then.
PROCESSING_RECHECK_SECONDS = 30


def stock_batch_reference(batch_id: int) -> str:
    """Our reference for a refill order: deterministic, so a re-run finds what a timed-out
    or dead run left at the provider."""
    return f"ttelgo-stock-{batch_id}"


@dataclass
class RefillReport:
    planned: int = 0  # batches planned by this run
    bought: int = 0  # eSIMs put in stock by this run
    batches: list[str] = field(default_factory=list)  # outcome per batch worked on
    refused: str = ""  # why the provider stopped this run, if it did


# --- plan ----------------------------------------------------------------------------------


def _held_cost(*, livemode: bool) -> dict[tuple[str, str], int]:
    """Minor units tied per (bundle, currency): eSIMs in stock (not yet refunded) and
    batches planned (at what they are expected to cost). Planned batches are read first: a
    batch settling between the two reads is then counted twice (a refill a little short,
    made up at the next run), never missed (a cap passed)."""
    held: dict[tuple[str, str], int] = defaultdict(int)
    planned = (
        StockBatch.objects.filter(livemode=livemode, status=B.PLANNED)
        .values("bundle_code", "currency")
        .annotate(total=Sum("expected_cost_amount"))
    )
    for row in planned:
        held[(row["bundle_code"], row["currency"])] += int(row["total"] or 0)
    rows = (
        StockEsim.objects.filter(livemode=livemode, status__in=[K.AVAILABLE, K.REVOKING])
        .values("bundle_code", "currency")
        .annotate(total=Sum("cost_amount"))
    )
    for row in rows:
        held[(row["bundle_code"], row["currency"])] += int(row["total"] or 0)
    return held


def stock_level(*, bundle_code: str, livemode: bool) -> int:
    """eSIMs free in stock plus those in batches planned and not bought yet, read in one
    statement (one snapshot): a batch settling meanwhile moves its eSIMs from "planned" to
    "free" in one commit, and two reads could see neither and plan the batch again."""
    sql = (
        f"SELECT (SELECT COUNT(*) FROM {StockEsim._meta.db_table}"  # noqa: S608 (our tables)
        " WHERE bundle_code = %s AND livemode = %s AND status = %s)"
        f" + (SELECT COALESCE(SUM(quantity), 0) FROM {StockBatch._meta.db_table}"
        " WHERE bundle_code = %s AND livemode = %s AND status = %s)"
    )
    params: list[str | bool] = [
        bundle_code,
        livemode,
        str(K.AVAILABLE),
        bundle_code,
        livemode,
        str(B.PLANNED),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        (level,) = cursor.fetchone()
    return int(level)


def stock_refill_plan(
    *,
    bundle_code: str | None = None,
    livemode: bool | None = None,
    requested_by: str = "",
    below_floor_only: bool = True,
) -> list[StockBatch]:
    """Plan the batches that bring every enabled bundle below its floor (or only
    `bundle_code`, in `livemode`) up to its target, within the caps (the module
    docstring). Returns the batches planned; none for a bundle at or above its floor, or
    whose caps are reached. `below_floor_only=False` (an operator's refill now): up to the
    target whatever the floor."""
    planned: list[StockBatch] = []
    size = max(1, int(settings.STOCK_REFILL_BATCH_SIZE))
    total_cap = int(settings.STOCK_CAPITAL_CAP_TOTAL)
    with transaction.atomic():
        # Every setting locked, in one order: planning runs are serialised, and the
        # overall cap is counted against a view no other run changes meanwhile.
        locked = list(
            stock_setting_qs_select_for_update().order_by("pk").values_list("pk", flat=True)
        )
        settings_qs = StockSetting.objects.filter(pk__in=locked, enabled=True).select_related(
            "bundle"
        )
        if bundle_code is not None:
            settings_qs = settings_qs.filter(bundle__code=bundle_code)
        if livemode is not None:
            settings_qs = settings_qs.filter(livemode=livemode)
        held = {mode: _held_cost(livemode=mode) for mode in (True, False)}
        for setting in settings_qs.order_by("pk"):
            bundle: Bundle = setting.bundle
            levels = stock_levels(setting)
            level = stock_level(bundle_code=bundle.code, livemode=setting.livemode)
            if (below_floor_only and level >= levels.floor) or levels.target <= level:
                continue
            unit = int(bundle.cost_amount)
            mode_held = held[setting.livemode]
            tied_bundle = mode_held[(bundle.code, bundle.currency)]
            tied_total = sum(v for (_, cur), v in mode_held.items() if cur == bundle.currency)
            room = min(setting.capital_cap - tied_bundle, total_cap - tied_total)
            affordable = room // unit if unit > 0 else levels.target
            wanted = min(levels.target - level, max(0, affordable))
            route = routes_for(bundle_code=bundle.code, livemode=setting.livemode)[0]
            while wanted > 0:
                quantity = min(size, wanted)
                batch = StockBatch.objects.create(
                    bundle_code=bundle.code,
                    livemode=setting.livemode,
                    provider=route.provider,
                    provider_code=route.code,
                    quantity=quantity,
                    expected_cost_amount=unit * quantity,
                    currency=bundle.currency,
                    requested_by=requested_by[:100],
                )
                batch.reference = stock_batch_reference(batch.pk)
                batch.save(update_fields=["reference"])
                mode_held[(bundle.code, bundle.currency)] += unit * quantity
                planned.append(batch)
                wanted -= quantity
    return planned


# --- buy -----------------------------------------------------------------------------------


def _claim(batch_id: int) -> StockBatch | None:
    """Take a planned, due batch under a lease (a conditional update). Durable: the claim
    is committed before the provider is called, so a caller holding a transaction open
    around a purchase fails here (RuntimeError). None when another run holds the batch,
    it is settled, or not due yet."""
    now = timezone.now()
    lease = timedelta(seconds=int(settings.STOCK_REFILL_LEASE_SECONDS))
    with transaction.atomic(durable=True):
        claimed = StockBatch.objects.filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now),
            Q(due_at__isnull=True) | Q(due_at__lte=now),
            pk=batch_id,
            status=B.PLANNED,
        ).update(lease_until=now + lease, attempts=F("attempts") + 1, updated_at=now)
    return StockBatch.objects.get(pk=batch_id) if claimed else None


def _release(batch: StockBatch, *, due_in: float = 0, error: str = "") -> None:
    now = timezone.now()
    fields: dict[str, object] = {"lease_until": None, "updated_at": now}
    if due_in:
        fields["due_at"] = now + timedelta(seconds=math.ceil(due_in))
    if error:
        fields["last_error"] = error[:500]
    StockBatch.objects.filter(pk=batch.pk, status=B.PLANNED).update(**fields)


def _backoff_seconds(attempts: int, retry_after: float | None) -> float:
    base = int(settings.STOCK_REFILL_BACKOFF_SECONDS)
    ceiling = int(settings.STOCK_REFILL_BACKOFF_MAX_SECONDS)
    return max(float(min(ceiling, base * 2 ** max(0, attempts - 1))), retry_after or 0.0)


def provider_order_unclaimed(provider_reference: str) -> bool:
    """Neither a stock batch nor an order of ours holds this provider order: one found at
    the provider under it may be adopted by a batch."""
    return not (
        StockBatch.objects.filter(provider_reference=provider_reference).exists()
        or Order.objects.filter(provider_reference=provider_reference).exists()
    )


def _provider_reference_keep(batch: StockBatch, provider_reference: str) -> None:
    """Record the provider's order on the batch at once: a crash later re-reads it, never
    re-buys. Unique: if another batch holds it, this one looks again later."""
    try:
        with transaction.atomic():
            StockBatch.objects.filter(pk=batch.pk).update(provider_reference=provider_reference)
    except IntegrityError:
        raise _Taken(provider_reference) from None


class _Taken(Exception):
    """The provider order found is another batch's: look again later."""


def _client(batch: StockBatch) -> Provider:
    """The batch's provider (test mode: the simulator)."""
    return client_for(batch.provider, batch.livemode, get=get_provider)


def _bought(batch: StockBatch, sleep: Callable[[float], None]) -> ProviderOrder:
    """The provider's order for this batch: read again, found, or placed now. Never
    places a second order for one batch while the provider may hold the first. An order
    placed waits for its slot: STOCK_REFILL_SPACING_SECONDS after the last refill order
    at this provider, from any run in any process (fulfilment/stock/spacing.py)."""
    provider = _client(batch)
    reference = batch.reference or stock_batch_reference(batch.pk)
    code = batch.provider_code or batch.bundle_code
    if batch.provider_reference:
        return provider.get_order(batch.provider_reference)
    if batch.sent_at is not None:
        # An earlier call was sent: it may have bought before it timed out or died.
        found = provider.find_order(
            reference,
            since=batch.sent_at,
            bundle_code=code,
            quantity=batch.quantity,
            adoptable=provider_order_unclaimed,
        )
        if found is not None:
            _provider_reference_keep(batch, found.reference)
            return found
    order_slot_wait(provider=batch.provider, livemode=batch.livemode, sleep=sleep)
    # Written before the call: a call that dies leaves the mark, and the next one looks.
    StockBatch.objects.filter(pk=batch.pk, sent_at__isnull=True).update(sent_at=timezone.now())
    placed = provider.create_order(bundle_code=code, quantity=batch.quantity, reference=reference)
    _provider_reference_keep(batch, placed.reference)
    return placed


def _install_data(batch: StockBatch, esims: list[EsimInstall]) -> list[EsimInstall]:
    """Every eSIM with its install data: a provider that listed only ICCIDs is asked per
    eSIM (still outside any transaction)."""
    provider = _client(batch)
    complete: list[EsimInstall] = []
    for esim in esims:
        if esim.matching_id and esim.smdp_address:
            complete.append(esim)
            continue
        details = provider.get_esim(esim.iccid)
        complete.append(EsimInstall(esim.iccid, details.matching_id, details.smdp_address))
    return complete


def _costs(total: Money, quantity: int) -> list[int]:
    """The batch's total split over its eSIMs in minor units, summing to it exactly."""
    base, extra = divmod(total.amount, quantity)
    return [base + (1 if i < extra else 0) for i in range(quantity)]


def _settle(batch: StockBatch, placed: ProviderOrder, esims: list[EsimInstall]) -> int:
    """Store the batch's eSIMs and book their cost, in one transaction with the batch
    locked and re-read: a batch settled meanwhile is left alone. Returns eSIMs stored."""
    with transaction.atomic():
        locked = stock_batch_qs_select_for_update().get(pk=batch.pk)
        if locked.status != B.PLANNED:
            return 0
        esims = esims[: locked.quantity]
        total = placed.total or Money(locked.expected_cost_amount, locked.currency)
        now = timezone.now()
        known = set(
            StockEsim.objects.filter(iccid__in=[e.iccid for e in esims]).values_list(
                "iccid", flat=True
            )
        ) | set(
            Esim.objects.filter(iccid__in=[e.iccid for e in esims]).values_list("iccid", flat=True)
        )
        if known:
            # The provider's order holds eSIMs we already have: not this batch's to store.
            raise _Taken(placed.reference)
        StockEsim.objects.bulk_create(
            [
                StockEsim(
                    iccid=e.iccid,
                    bundle_code=locked.bundle_code,
                    livemode=locked.livemode,
                    smdp_address=e.smdp_address,
                    matching_id=e.matching_id,
                    cost_amount=cost,
                    currency=total.currency,
                    provider_reference=placed.reference,
                    provider=locked.provider,
                    batch=locked,
                    purchased_at=placed.created_at or now,
                )
                for e, cost in zip(esims, _costs(total, len(esims)), strict=True)
            ]
        )
        stock_purchase_record(
            cost=total,
            reference=f"stock-purchase-{locked.reference}",
            livemode=locked.livemode,
            description=f"{len(esims)} x {locked.bundle_code} bought for stock ({placed.reference})",
        )
        transition_rows(
            StockBatch.objects.filter(pk=locked.pk),
            table=STOCK_BATCH_STATES,
            to=B.COMPLETED,
            expected=B.PLANNED,
            provider_reference=placed.reference,
            cost_amount=total.amount,
            currency=total.currency,
            lease_until=None,
            completed_at=now,
            last_error="",
            updated_at=now,
        )
    return len(esims)


@dataclass(frozen=True)
class BatchOutcome:
    result: str  # completed | processing | failed | refused | busy
    bought: int = 0
    retry_after: float | None = None
    reason: str = ""


def stock_batch_buy(batch_id: int, *, sleep: Callable[[float], None] = time.sleep) -> BatchOutcome:
    """Buy one planned batch (the module docstring's step 2). Must run outside any
    transaction: it calls the provider (and waits for its order's slot)."""
    batch = _claim(batch_id)
    if batch is None:
        return BatchOutcome("busy")
    try:
        with calls_in_background(int(settings.STOCK_REFILL_RATE_RESERVE)):
            placed = _bought(batch, sleep)
            if placed.status == ProviderOrder.STATUS_FAILED:
                _fail(batch, "the provider failed the order")
                return BatchOutcome("failed", reason="the provider failed the order")
            if not placed.is_complete:
                _release(batch, due_in=PROCESSING_RECHECK_SECONDS)
                return BatchOutcome("processing")
            esims = _install_data(batch, list(placed.esims))
    except _Taken as taken:
        _release(batch, due_in=PROCESSING_RECHECK_SECONDS, error=f"{taken} held elsewhere")
        return BatchOutcome("busy", reason="provider order held by another batch")
    except ProviderError as exc:
        if exc.transient:
            wait = _backoff_seconds(batch.attempts, exc.retry_after)
            _release(batch, due_in=wait, error=exc.message)
            _mode_wait(livemode=batch.livemode, seconds=wait)
            return BatchOutcome("refused", retry_after=wait, reason=exc.message)
        # The provider refused the order itself (bad bundle, no balance): nothing bought.
        _fail(batch, exc.message)
        return BatchOutcome("failed", reason=exc.message)
    try:
        bought = _settle(batch, placed, esims)
    except _Taken:
        # Its eSIMs are ours already (in stock or delivered): reading it again would only
        # find them again. Operators and reconciliation look at it; nothing is stored.
        reason = (
            f"provider order {placed.reference} holds eSIMs we already have: "
            "nothing stored; check it at the provider"
        )
        _fail(batch, reason)
        logger.error("stock batch %s: %s", batch.reference, reason)
        return BatchOutcome("failed", reason=reason)
    return BatchOutcome("completed", bought=bought)


def _fail(batch: StockBatch, reason: str) -> None:
    """The provider refused or failed the order: nothing was bought for this batch."""
    transition_rows(
        StockBatch.objects.filter(pk=batch.pk),
        table=STOCK_BATCH_STATES,
        to=B.FAILED,
        expected=B.PLANNED,
        lease_until=None,
        last_error=reason[:500],
        updated_at=timezone.now(),
    )


def _mode_wait(*, livemode: bool, seconds: float) -> None:
    """The provider refused: no planned batch of this mode is tried before `seconds`."""
    until = timezone.now() + timedelta(seconds=math.ceil(seconds))
    StockBatch.objects.filter(
        Q(due_at__isnull=True) | Q(due_at__lt=until), status=B.PLANNED, livemode=livemode
    ).update(due_at=until)


def stock_refill_run(
    *,
    bundle_code: str | None = None,
    requested_by: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> RefillReport:
    """Plan, then buy the due batches one after another, each order in its own slot
    (spaced across runs and processes); stop at the provider's first refusal. Finally tell operators about stocked bundles that ran out."""
    report = RefillReport()
    report.planned = len(stock_refill_plan(bundle_code=bundle_code, requested_by=requested_by))
    now = timezone.now()
    due = StockBatch.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        Q(due_at__isnull=True) | Q(due_at__lte=now),
        status=B.PLANNED,
    )
    if bundle_code is not None:
        due = due.filter(bundle_code=bundle_code)
    ids = list(
        due.order_by("pk").values_list("pk", flat=True)[: settings.STOCK_REFILL_MAX_BATCHES_PER_RUN]
    )
    for batch_id in ids:
        outcome = stock_batch_buy(batch_id, sleep=sleep)
        report.batches.append(outcome.result)
        report.bought += outcome.bought
        if outcome.result == "refused":
            report.refused = outcome.reason
            break
    stock_out_alert()
    return report


# --- alerts --------------------------------------------------------------------------------


def stock_out_alert(*, bundle_code: str | None = None, livemode: bool | None = None) -> list[int]:
    """Email operators once when an enabled stocked bundle (live) had stock and has no
    eSIM left (orders of it go to provisioning meanwhile); the alert re-arms once it is
    stocked again. A bundle waiting for its first fill is not "out". Every refill run
    checks all bundles; a sale that took the last eSIM (or found none) checks its own
    after it commits (`fulfilment.tasks.stock_out_check`). Returns the settings alerted
    now."""
    alerted: list[int] = []
    settings_qs = StockSetting.objects.filter(enabled=True).select_related("bundle")
    if bundle_code is not None:
        settings_qs = settings_qs.filter(bundle__code=bundle_code)
    if livemode is not None:
        settings_qs = settings_qs.filter(livemode=livemode)
    for setting in settings_qs:
        rows = StockEsim.objects.filter(bundle_code=setting.bundle.code, livemode=setting.livemode)
        if rows.filter(status=K.AVAILABLE).exists():
            if setting.out_alerted_at is not None:
                StockSetting.objects.filter(pk=setting.pk).update(out_alerted_at=None)
            continue
        if setting.out_alerted_at is not None or not setting.livemode or not rows.exists():
            continue  # told already, test mode, or never stocked yet (its first fill)
        levels = stock_levels(setting)
        if levels.target <= 0:  # computed from no sales: nothing is meant to be stocked
            continue
        with transaction.atomic():
            # Conditional: of two runs at once, one emails.
            if not StockSetting.objects.filter(pk=setting.pk, out_alerted_at__isnull=True).update(
                out_alerted_at=timezone.now()
            ):
                continue
            ops_email_send(
                f"Stock of {setting.bundle.code} ran out",
                f"The ready stock of {setting.bundle.code} is empty: its orders are "
                f"provisioned from the provider until a refill arrives.\n"
                f"Floor {levels.floor}, target {levels.target}"
                f"{' (computed from sales)' if levels.computed else ''}, capital cap "
                f"{Money(setting.capital_cap, setting.bundle.currency)}.\n"
                f"Batches waiting: "
                f"{StockBatch.objects.filter(bundle_code=setting.bundle.code, livemode=True, status=B.PLANNED).count()}.",
            )
            alerted.append(setting.pk)
    return alerted
