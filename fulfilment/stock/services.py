"""The sale from stock: an order of a stocked bundle takes its eSIMs from stock inside
its own transaction (`stock_esims_take`).

What holds:
- No two orders take the same eSIM: each stock row is taken under its row lock and moved
  `available -> sold` by a conditional update; `StockEsim.esim` is one-to-one and the
  `Esim` ICCID unique, so the database refuses a second sale of one eSIM regardless.
- No order waits on another: the pick is `SELECT ... FOR UPDATE SKIP LOCKED`, so a sale
  passes over the rows a concurrent sale holds and takes the next oldest ones.
- All or nothing: an order of `quantity` eSIMs takes that many or none (a savepoint rolled
  back releases the rows it had locked), and the caller provisions it as before.
- A crash before the order's transaction commits leaves every eSIM it took in stock: the
  take is only the order's uncommitted writes.
- Out of stock is told at the sale: a live sale that finds the bundle empty queues the
  out-of-stock check (outbox, after commit); one that took the last eSIM has it checked
  by its tagging task. Operators get one email either way (`stock_out_alert`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from catalogue.models import Bundle
from fulfilment.lock_objects import stock_esim_qs_select_for_update
from fulfilment.models import Esim
from fulfilment.stock.models import STOCKED_CACHE_KEY, StockEsim, StockSetting
from fulfilment.stock.state import STOCK_ESIM_STATES
from orders.models import Order
from ttelgo.money import Money
from ttelgo.outbox import task_enqueue
from ttelgo.state import transition_rows

K = StockEsim.Status


@dataclass(frozen=True)
class StockTaken:
    """The order's eSIMs, created from stock, and what they cost when bought (the
    inventory the sale moves to cost of sales)."""

    esims: list[Esim]
    cost: Money


class _NotEnough(Exception):
    """Fewer eSIMs free in stock than the order needs: undo the partial take."""

    def __init__(self, found: int) -> None:
        super().__init__(found)
        self.found = found


# A sale that finds a live stocked bundle empty asks for the out-of-stock check at most
# this often per bundle (the check itself tells operators once; this spares the outbox).
OUT_CHECK_EVERY_SECONDS = 60


def _out_check_enqueue(*, bundle_code: str, livemode: bool) -> None:
    """Queue the out-of-stock check of the bundle (sent once the order commits)."""
    if cache.add(f"stock:out-check:{bundle_code}:{int(livemode)}", 1, OUT_CHECK_EVERY_SECONDS):
        task_enqueue("fulfilment.tasks.stock_out_check", bundle_code, livemode)


# How long the cached copy of the stocked bundles lives at most (a change drops it at
# once: `stock_settings_changed`; this bounds a change made around the signals).
STOCKED_CACHE_SECONDS = 60


def stocked_bundles() -> frozenset[tuple[str, bool]]:
    """The (bundle code, livemode) pairs operators stock and sell from: from the cache,
    else one query (then cached)."""
    cached: frozenset[tuple[str, bool]] | None = cache.get(STOCKED_CACHE_KEY)
    if cached is None:
        cached = frozenset(
            StockSetting.objects.filter(enabled=True).values_list("bundle__code", "livemode")
        )
        cache.set(STOCKED_CACHE_KEY, cached, STOCKED_CACHE_SECONDS)
    return cached


def stock_enabled(*, bundle_code: str, livemode: bool) -> bool:
    """Operators stock this bundle in this mode and sell from it (no query while the
    cached copy lives: every vendor order asks)."""
    return (bundle_code, livemode) in stocked_bundles()


def bundles_in_stock(*, livemode: bool) -> frozenset[str]:
    """The codes of the bundles an order of one eSIM would take from stock now in this
    mode (the vendor catalogue's `in_stock`): sold from stock (an enabled setting) with
    at least one eSIM available. One query (the available-stock index)."""
    enabled = StockSetting.objects.filter(livemode=livemode, enabled=True).values("bundle__code")
    return frozenset(
        StockEsim.objects.filter(livemode=livemode, status=K.AVAILABLE, bundle_code__in=enabled)
        .order_by()
        .values_list("bundle_code", flat=True)
        .distinct()
    )


def stock_esims_take(*, order: Order) -> StockTaken | None:
    """Take the order's eSIMs from stock, oldest first, and create them as the order's
    `Esim`s; None when the bundle is not stocked (in the order's mode), the order already
    has eSIMs, or stock has fewer free eSIMs than the order's quantity: the caller then
    provisions the order as before. Must run inside the order's transaction: the taken
    rows stay locked until it commits, and go back to stock if it rolls back."""
    if not connection.in_atomic_block:
        raise RuntimeError("stock_esims_take runs inside the order's transaction")
    if order.kind != Order.Kind.ESIM:
        return None
    item = order.items.get()
    if not stock_enabled(bundle_code=item.bundle_code, livemode=order.livemode):
        return None
    if Esim.objects.filter(order=order).exists():
        return None
    try:
        with transaction.atomic():  # a savepoint: rolled back, it releases its row locks
            return _take(order=order, bundle_code=item.bundle_code, quantity=item.quantity)
    except _NotEnough as short:
        if short.found == 0 and order.livemode:
            # Empty (or every eSIM held by concurrent sales): operators hear of it now,
            # not at the next refill. A sale that takes the last eSIM checks in its
            # tagging task (fulfilment/stock/tagging.py).
            _out_check_enqueue(bundle_code=item.bundle_code, livemode=order.livemode)
        return None


def _take(*, order: Order, bundle_code: str, quantity: int) -> StockTaken:
    rows = list(
        stock_esim_qs_select_for_update(skip_locked=True)
        .filter(bundle_code=bundle_code, livemode=order.livemode, status=K.AVAILABLE)
        .order_by("purchased_at", "id")[:quantity]
    )
    if len(rows) < quantity:
        raise _NotEnough(len(rows))
    bundle = Bundle.objects.filter(code=bundle_code).first()
    data_mb = bundle.data_mb if bundle else 0
    now = timezone.now()
    validity = bundle.validity_days if bundle else 0
    esims: list[Esim] = []
    for row in rows:
        esim = Esim.objects.create(
            iccid=row.iccid,
            order=order,
            livemode=order.livemode,
            bundle_code=bundle_code,
            smdp_address=row.smdp_address,
            matching_id=row.matching_id,
            initial_mb=data_mb,
            remaining_mb=data_mb,
            unlimited=bool(bundle and bundle.unlimited),
            expires_at=now + timedelta(days=validity) if validity else None,
        )
        # We hold the row's lock and read it available: the move is ours.
        moved = transition_rows(
            StockEsim.objects.filter(pk=row.pk),
            table=STOCK_ESIM_STATES,
            to=K.SOLD,
            expected=K.AVAILABLE,
            esim=esim,
            sold_at=now,
            updated_at=now,
        )
        if moved != 1:  # pragma: no cover - the lock makes this impossible
            raise RuntimeError(f"stock eSIM {row.pk} was taken under our lock")
        esims.append(esim)
    cost = Money(rows[0].cost_amount, rows[0].currency)
    for row in rows[1:]:
        cost = cost + Money(row.cost_amount, row.currency)
    return StockTaken(esims=esims, cost=cost)
