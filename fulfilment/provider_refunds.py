"""Refunds the provider owes us for bundles it took back. A revocation books the bundle's
cost as owed to us (`provider_refund_receivable`); the `provider_refunds_collect` job asks
the provider about each pending one and settles it against what we owe the provider once
the provider reports the bundle revoked (its refund is then on our balance)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from fulfilment.lock_objects import provider_refund_qs_select_for_update
from fulfilment.models import ProviderRefund
from fulfilment.routing import client_for, esim_provider
from fulfilment.state import PROVIDER_REFUND_STATES
from ledger.services import provider_refund_due, provider_refund_received
from orders.models import Order
from providers import ProviderError, ProviderNotFound, get_provider
from ttelgo.money import Money
from ttelgo.state import transition_rows

logger = logging.getLogger(__name__)


def provider_refund_expect(*, order: Order, iccid: str, bundle_code: str, cost: Money) -> None:
    """Inside the transaction that records a revocation: the provider owes us `cost`."""
    if cost.amount <= 0:
        return
    _refund, created = ProviderRefund.objects.get_or_create(
        order=order,
        iccid=iccid,
        bundle_code=bundle_code,
        defaults={"amount": cost.amount, "currency": cost.currency},
    )
    if created:
        provider_refund_due(
            cost=cost,
            reference=f"order:{order.pk}:revoke:{iccid}:{bundle_code}",
            order_id=order.pk,
            livemode=order.livemode,
        )


def _refund_arrived(refund: ProviderRefund) -> bool:
    """Whether the provider reports the bundle revoked (asked outside any transaction)."""
    try:
        bundles = client_for(
            esim_provider(refund.iccid), refund.order.livemode, get_provider
        ).get_usage(refund.iccid)
    except ProviderNotFound:
        return False
    rows = [b for b in bundles if b.bundle_code == refund.bundle_code]
    return bool(rows) and all(b.state == "revoked" for b in rows)


def provider_refunds_collect(*, limit: int = 200) -> list[int]:
    """Beat job: settle the pending refunds the provider now shows as made. Returns the
    ids settled; one the provider cannot answer about waits for the next run."""
    settled: list[int] = []
    pending = (
        ProviderRefund.objects.filter(status=ProviderRefund.Status.PENDING)
        .select_related("order")
        .order_by("created_at", "id")[:limit]
    )
    for refund in pending:
        try:
            arrived = _refund_arrived(refund)
        except ProviderError as exc:
            logger.info("provider refund %s not checked: %s", refund.pk, exc.message)
            continue
        if arrived and provider_refund_settle(refund_id=refund.pk):
            settled.append(refund.pk)
    return settled


def provider_refund_settle(*, refund_id: int) -> bool:
    """The refund arrived: what we owe the provider falls by it. Once per refund."""
    with transaction.atomic():
        refund = provider_refund_qs_select_for_update().get(pk=refund_id)
        if refund.status != ProviderRefund.Status.PENDING:
            return False
        provider_refund_received(
            amount=refund.money,
            reference=f"provider-refund:{refund.pk}",
            order_id=refund.order_id,
            livemode=refund.order.livemode,
        )
        # Under the row lock, from `pending`: this call moves it.
        transition_rows(
            ProviderRefund.objects.filter(pk=refund.pk),
            table=PROVIDER_REFUND_STATES,
            to=ProviderRefund.Status.RECEIVED,
            expected=ProviderRefund.Status.PENDING,
            received_at=timezone.now(),
        )
    return True
