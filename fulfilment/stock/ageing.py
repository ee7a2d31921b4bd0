"""Ageing: stock is given back to the provider before its refund window closes, with a
refund to our provider balance; what the provider no longer refunds is written off
(`stock_age_run`, the beat job `fulfilment.tasks.stock_age`; an operator's "release"
marks eSIMs the same way and queues it).

1. Mark (one conditional update): every available eSIM bought more than
   STOCK_REFUND_WINDOW_DAYS - STOCK_REFUND_MARGIN_DAYS days ago moves `available ->
   revoking`. A sale holding one of them keeps it (the update finds it `sold`); from then
   on no sale takes a marked eSIM.
2. Give back (no transaction open), per `revoking` eSIM, under a lease (a conditional
   update: two runs never work one eSIM): the provider revokes its bundle with a refund
   to our balance (`revoke_bundle`). When it refuses, the bundle's state at the provider
   decides: already revoked (an earlier run revoked it and died before recording it) is
   a refund; anything else is written off with the provider's reason.
3. Settle (one transaction): `revoking -> revoked` with `stock_refund_due` (its cost leaves
   inventory and is owed back by the provider), or `revoking -> written_off` with
   `stock_write_off` (to adjustments, the reason in the posting and on the eSIM, shown in
   the console). Both postings are idempotent on the eSIM's reference and made only by
   the run whose conditional move succeeded.

A transient refusal (breaker open, 429, 5xx, a timeout) leaves the eSIM `revoking` for the
next run, and stops this one. Calls run in `calls_in_background`: live orders first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from fulfilment.routing import client_for
from fulfilment.stock.models import StockEsim
from fulfilment.stock.state import STOCK_ESIM_STATES
from ledger.services import stock_refund_due, stock_write_off
from providers import Provider, ProviderError, get_provider
from providers.ratelimit import calls_in_background
from ttelgo.state import transition_rows

logger = logging.getLogger(__name__)
K = StockEsim.Status
LEASE = timedelta(minutes=5)


@dataclass
class AgeingReport:
    marked: int = 0
    revoked: list[int] = field(default_factory=list)
    written_off: list[int] = field(default_factory=list)
    refused: str = ""  # the transient refusal that stopped the run


def stock_age_cutoff(now: datetime | None = None) -> datetime:
    """eSIMs bought at or before this are given back now: their refund window closes
    within the margin."""
    now = now or timezone.now()
    keep = int(settings.STOCK_REFUND_WINDOW_DAYS) - int(settings.STOCK_REFUND_MARGIN_DAYS)
    return now - timedelta(days=max(0, keep))


def stock_ageing_mark(*, now: datetime | None = None) -> int:
    """Move every available eSIM past the cutoff to `revoking` (no sale takes it from
    then on). Returns how many moved."""
    cutoff = stock_age_cutoff(now)
    window = int(settings.STOCK_REFUND_WINDOW_DAYS)
    return transition_rows(
        StockEsim.objects.filter(purchased_at__lte=cutoff),
        table=STOCK_ESIM_STATES,
        to=K.REVOKING,
        expected=K.AVAILABLE,
        end_reason=f"aged: the provider's {window}-day refund window was about to close",
        updated_at=timezone.now(),
    )


def _claim(row_id: int) -> StockEsim | None:
    """Take a `revoking` eSIM under a lease. Durable: committed before the provider is
    called (a caller holding a transaction open fails here: RuntimeError)."""
    now = timezone.now()
    with transaction.atomic(durable=True):
        claimed = StockEsim.objects.filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now), pk=row_id, status=K.REVOKING
        ).update(lease_until=now + LEASE)
    return StockEsim.objects.select_related("batch").get(pk=row_id) if claimed else None


def _already_revoked(row: StockEsim) -> bool:
    """The provider shows the bundle revoked on this eSIM (an earlier run's call went
    through). False when it says otherwise or cannot say."""
    try:
        usage = _client(row).get_usage(row.iccid)
    except ProviderError:
        return False
    return any(u.bundle_code == _code(row) and u.state == "revoked" for u in usage)


def _client(row: StockEsim) -> Provider:
    """The provider that issued the eSIM (test mode: the simulator)."""
    return client_for(row.provider, row.livemode, get=get_provider)


def _code(row: StockEsim) -> str:
    """The bundle's code at that provider (the batch's, when the eSIM came from one)."""
    batch = row.batch
    return (batch.provider_code if batch is not None else "") or row.bundle_code


@dataclass(frozen=True)
class GiveBack:
    result: str  # revoked | written_off | retry | busy
    reason: str = ""


def stock_esim_give_back(row_id: int) -> GiveBack:
    """Give one `revoking` eSIM back to the provider and settle it (the module
    docstring's steps 2 and 3). Never inside a transaction: it calls the provider."""
    row = _claim(row_id)
    if row is None:
        return GiveBack("busy")
    try:
        with calls_in_background(int(settings.STOCK_REFILL_RATE_RESERVE)):
            _client(row).revoke_bundle(iccid=row.iccid, bundle_code=_code(row))
        refunded, reason = True, ""
    except ProviderError as exc:
        if exc.transient:
            StockEsim.objects.filter(pk=row.pk).update(lease_until=None)
            return GiveBack("retry", reason=exc.message)
        with calls_in_background(int(settings.STOCK_REFILL_RATE_RESERVE)):
            refunded = _already_revoked(row)
        reason = f"the provider refused the refund: {exc.message}"
    return _settle(row, refunded=refunded, reason=reason)


def _settle(row: StockEsim, *, refunded: bool, reason: str) -> GiveBack:
    now = timezone.now()
    with transaction.atomic():
        rows = StockEsim.objects.filter(pk=row.pk)
        if refunded:
            moved = transition_rows(
                rows,
                table=STOCK_ESIM_STATES,
                to=K.REVOKED,
                expected=K.REVOKING,
                ended_at=now,
                lease_until=None,
                updated_at=now,
            )
            if moved:
                stock_refund_due(
                    cost=row.cost,
                    reference=f"stock-refund-{row.pk}",
                    livemode=row.livemode,
                    description=f"Stock eSIM {row.iccid} ({row.bundle_code}) given back: "
                    f"{row.end_reason or 'released'}"[:500],
                )
            return GiveBack("revoked" if moved else "busy")
        moved = transition_rows(
            rows,
            table=STOCK_ESIM_STATES,
            to=K.WRITTEN_OFF,
            expected=K.REVOKING,
            ended_at=now,
            end_reason=(f"{row.end_reason}; {reason}" if row.end_reason else reason)[:500],
            lease_until=None,
            updated_at=now,
        )
        if moved:
            stock_write_off(
                cost=row.cost,
                reference=f"stock-write-off-{row.pk}",
                reason=f"{row.iccid} ({row.bundle_code}): {reason}",
                livemode=row.livemode,
            )
        return GiveBack("written_off" if moved else "busy", reason=reason)


def stock_age_run(*, now: datetime | None = None) -> AgeingReport:
    """Mark the aged stock, then give back every `revoking` eSIM (aged or released by an
    operator), oldest first; stop at the provider's first transient refusal. Safe to
    run any number of times at once."""
    report = AgeingReport(marked=stock_ageing_mark(now=now))
    ids = list(
        StockEsim.objects.filter(status=K.REVOKING)
        .order_by("purchased_at", "id")
        .values_list("pk", flat=True)
    )
    for row_id in ids:
        outcome = stock_esim_give_back(row_id)
        if outcome.result == "revoked":
            report.revoked.append(row_id)
        elif outcome.result == "written_off":
            report.written_off.append(row_id)
        elif outcome.result == "retry":
            report.refused = outcome.reason
            break
    return report
