"""The refund of stock given back, matched when it reaches our provider balance.

Ageing (or an operator's release) gives a stock eSIM back to the provider and books its
cost as owed to us (`stock_refund_due`: provider_refund_receivable against inventory).
The provider credits the refund to our balance with it; as for refunds of sold bundles
(fulfilment/provider_refunds.py), we see it arrive when the provider reports the bundle
revoked on the eSIM. Then `stock_refund_settle` books it received
(`provider_refund_received`: what we owe the provider falls, the receivable is settled)
and stamps `refund_received_at`, once per eSIM (the row lock and the stamp; the posting
is idempotent on its reference besides).

`stock_refunds_collect` runs with the provider refunds' beat job. A refund not seen after
STOCK_REFUND_OVERDUE_DAYS is flagged by reconciliation (`stock_refund_overdue`).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from fulfilment.lock_objects import stock_esim_qs_select_for_update
from fulfilment.routing import client_for
from fulfilment.stock.models import StockEsim
from ledger.services import provider_refund_received
from providers import ProviderError, ProviderNotFound, get_provider
from providers.ratelimit import calls_in_background

logger = logging.getLogger(__name__)
K = StockEsim.Status


def stock_refund_pending() -> QuerySet[StockEsim]:
    """Stock given back whose refund has not been seen at our balance yet, oldest first."""
    return StockEsim.objects.filter(status=K.REVOKED, refund_received_at__isnull=True).order_by(
        "ended_at", "id"
    )


def _refund_arrived(row: StockEsim) -> bool:
    """Whether the provider reports the bundle revoked on the eSIM (outside any
    transaction; a background call: live orders keep their share of the rate limit)."""
    code = (row.batch.provider_code if row.batch is not None else "") or row.bundle_code
    try:
        with calls_in_background(int(settings.STOCK_REFILL_RATE_RESERVE)):
            bundles = client_for(row.provider, row.livemode, get=get_provider).get_usage(row.iccid)
    except ProviderNotFound:
        return False
    rows = [b for b in bundles if b.bundle_code in (code, row.bundle_code)]
    return bool(rows) and all(b.state == "revoked" for b in rows)


def stock_refund_settle(*, row_id: int) -> bool:
    """The refund of a given-back stock eSIM arrived: book it received. Once per eSIM."""
    with transaction.atomic():
        row = stock_esim_qs_select_for_update().get(pk=row_id)
        if row.status != K.REVOKED or row.refund_received_at is not None:
            return False
        provider_refund_received(
            amount=row.cost,
            reference=f"stock-refund-received-{row.pk}",
            order_id=None,
            livemode=row.livemode,
            description=f"Provider refunded stock eSIM {row.iccid} ({row.bundle_code})",
        )
        StockEsim.objects.filter(pk=row.pk).update(
            refund_received_at=timezone.now(), updated_at=timezone.now()
        )
    return True


def stock_refunds_collect(*, limit: int = 200) -> list[int]:
    """Beat job (with `provider_refunds_collect`): settle the stock refunds the provider now
    shows as made. Returns the eSIM ids settled; one the provider cannot answer about
    waits for the next run."""
    settled: list[int] = []
    for row in stock_refund_pending().select_related("batch")[:limit]:
        if row.cost_amount <= 0:
            continue
        try:
            arrived = _refund_arrived(row)
        except ProviderError as exc:
            logger.info("stock refund of %s not checked: %s", row.iccid, exc.message)
            if exc.transient:
                break  # the provider is refusing: the rest waits for the next run
            continue
        if arrived and stock_refund_settle(row_id=row.pk):
            settled.append(row.pk)
    return settled
