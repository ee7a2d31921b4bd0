"""Refunds the provider owes us for bundles it took back. A revocation books the bundle's
cost as owed to us (`provider_refund_receivable`); the `provider_refunds_collect` job asks
the provider about each pending one and settles it against what we owe the provider once
the provider reports the bundle revoked (its refund is then on our balance).

Airalo cannot revoke: it reviews refund requests by hand and pays back in credit, days
later. Its refunds are not read from usage; they clear when the credit arrives and is
matched to them (`provider_credit_match`, from the console). Reconciliation flags those
still pending after `PROVIDER_CREDIT_OVERDUE_DAYS`."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from fulfilment.lock_objects import provider_refund_qs_select_for_update
from fulfilment.models import ProviderRefund
from fulfilment.routing import client_for, esim_provider
from fulfilment.state import PROVIDER_REFUND_STATES
from ledger.services import provider_refund_due, provider_refund_received
from orders.models import Order
from providers import ProviderError, ProviderNotFound, get_provider
from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.permissions import operator_require
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
        defaults={
            "amount": cost.amount,
            "currency": cost.currency,
            "provider": esim_provider(iccid) or order.provider,
        },
    )
    if created:
        provider_refund_due(
            cost=cost,
            reference=f"order:{order.pk}:revoke:{iccid}:{bundle_code}",
            order_id=order.pk,
            livemode=order.livemode,
        )


# Providers that pay refunds back as credit after a review: matched, not read from usage.
CREDIT_PROVIDERS = ("airalo",)


def _refund_arrived(refund: ProviderRefund) -> bool:
    """Whether the provider reports the bundle revoked (asked outside any transaction)."""
    if refund.provider in CREDIT_PROVIDERS:
        return False  # cleared when its credit is matched (provider_credit_match)
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


def provider_credit_match(
    *, provider: str, amount: Money, reference: str, refund_ids: list[int] | None = None
) -> list[int]:
    """A credit from `provider` arrived (`reference`: its id there, e.g. Airalo's refund
    id or credit note): settle the pending refunds it pays back. With `refund_ids`, those
    (their sum must be the credit); else the oldest pending refund of that amount, or the
    oldest ones whose amounts add up to it. Once per credit: a reference already matched
    returns the refunds it settled. A credit that matches nothing is refused (409
    `invalid_state`): an operator looks at it."""
    with transaction.atomic():
        done = list(
            ProviderRefund.objects.filter(provider=provider, credit_reference=reference)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if done:
            return done
        pending = list(
            provider_refund_qs_select_for_update()
            .filter(
                provider=provider,
                status=ProviderRefund.Status.PENDING,
                currency=amount.currency,
            )
            .select_related("order")
            .order_by("created_at", "id")
        )
        chosen = _credit_refunds(pending, amount, refund_ids)
        if not chosen:
            raise DomainError(
                "invalid_state",
                f"No pending {provider} refund adds up to the credit {amount} ({reference}).",
            )
        now = timezone.now()
        for refund in chosen:
            provider_refund_received(
                amount=refund.money,
                reference=f"provider-refund:{refund.pk}",
                order_id=refund.order_id,
                livemode=refund.order.livemode,
            )
            transition_rows(
                ProviderRefund.objects.filter(pk=refund.pk),
                table=PROVIDER_REFUND_STATES,
                to=ProviderRefund.Status.RECEIVED,
                expected=ProviderRefund.Status.PENDING,
                received_at=now,
                credit_reference=reference,
            )
    return [r.pk for r in chosen]


def _credit_refunds(
    pending: list[ProviderRefund], amount: Money, refund_ids: list[int] | None
) -> list[ProviderRefund]:
    if refund_ids is not None:
        chosen = [r for r in pending if r.pk in set(refund_ids)]
        total = sum(r.amount for r in chosen)
        return chosen if len(chosen) == len(set(refund_ids)) and total == amount.amount else []
    exact = [r for r in pending if r.amount == amount.amount]
    if exact:
        return exact[:1]
    running: list[ProviderRefund] = []
    for refund in pending:  # the oldest first: credits come back in the order asked
        running.append(refund)
        total = sum(r.amount for r in running)
        if total == amount.amount:
            return running
        if total > amount.amount:
            return []
    return []


def operator_provider_credit_match(*, refund_id: int, actor: Any, reference: str) -> list[int]:
    """From the console (finance): the credit `reference` paid back this pending refund
    (its amount). Audited; once per credit."""
    operator_require(actor, "ttelgo.run_reconciliation")
    refund = ProviderRefund.objects.get(pk=refund_id)
    if refund.provider not in CREDIT_PROVIDERS:
        raise DomainError(
            "invalid_state", f"{refund.provider or 'This provider'} refunds are read from usage."
        )
    with transaction.atomic():
        settled = provider_credit_match(
            provider=refund.provider,
            amount=refund.money,
            reference=reference,
            refund_ids=[refund.pk],
        )
        audit_record(
            actor=actor,
            action="fulfilment.provider_credit_match",
            target=refund,
            after={"credit_reference": reference, "refunds": settled, "amount": refund.amount},
        )
    return settled
