"""Reconciliation: compares what we recorded with the ledger's own invariants, with
Stripe's PaymentIntents and with the provider's orders, and lists orders stuck in a
state. Each discrepancy becomes a `ReconciliationFinding` with the fix an operator can
apply from the admin (re-drive, refund, re-sync, or resolve with a note).

The run only reports (it reads orders, payments and eSIMs, never writes them); fixes go
through the owning app's services (`orders/operator.py`, `payments.services`).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models import F as Field
from django.utils import timezone

from fulfilment.models import Esim, EsimRefund, ProviderRefund
from fulfilment.operator import operator_order_refund
from fulfilment.provider_refunds import CREDIT_PROVIDERS
from fulfilment.provisioning import provider_reference_for
from fulfilment.refunds import CLAIM_SECONDS
from fulfilment.revocation import esim_refund_share
from fulfilment.stock.models import StockEsim
from ledger.integrity import ledger_integrity_check
from ledger.models import Account, Entry, Purpose, Transaction
from orders.models import Order
from orders.operator import operator_order_redrive
from payments.fees import payout_reconcile, payout_reference
from payments.gateways import get_gateway
from payments.models import Payment, Refund
from payments.services import payment_intent_sync
from providers import PROVIDER_NAMES, get_provider
from reconciliation.models import ReconciliationFinding, ReconciliationRun
from reconciliation.state import FINDING_STATES, finding_move, run_move
from ttelgo.audit import audit_record
from ttelgo.csv_safe import csv_text
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.outbox import task_enqueue
from ttelgo.permissions import operator_require

logger = logging.getLogger(__name__)
S = Order.Status
F = ReconciliationFinding
DEFAULT_WINDOW = timedelta(days=7)
STUCK_AFTER = timedelta(minutes=15)
STALE_AFTER = timedelta(hours=24)
GATEWAY_LIMIT = 1000

Found = dict[str, Any]  # keyword arguments of a ReconciliationFinding


def _finding(category: str, code: str, message: str, **kw: Any) -> Found:
    return {"category": category, "code": code, "message": message, **kw}


# --- checks -----------------------------------------------------------------------------


def check_ledger(*, since: Any) -> list[Found]:

    return [
        _finding(
            F.Category.LEDGER,
            f.code,
            f.message,
            object_type=f.object_type,
            object_id=str(f.object_id),
            details=f.details,
        )
        for f in ledger_integrity_check()
    ] + _inventory_against_stock()


def _inventory_against_stock() -> list[Found]:
    """The inventory account holds what the stock on hand cost: bought stock is booked in
    (`stock_purchase_record`), and every eSIM that leaves stock books its cost out (sold,
    refunded, written off). Stock being given back (`revoking`: released, aged, or left
    by an outage for the next ageing run) is still on hand until the provider's answer is
    booked. Live mode, per currency: a difference is stock bought or sold without its
    posting."""
    held = dict(
        StockEsim.objects.filter(
            livemode=True,
            status__in=(StockEsim.Status.AVAILABLE, StockEsim.Status.REVOKING),
        )
        .order_by()
        .values_list("currency")
        .annotate(total=Sum("cost_amount"))
    )
    booked = dict(
        Entry.objects.filter(account__purpose=Purpose.INVENTORY, account__livemode=True)
        .order_by()
        .values_list("account__currency")
        .annotate(total=Sum("amount"))
    )
    found: list[Found] = []
    for currency in sorted(set(held) | set(booked)):
        stock, ledger = held.get(currency) or 0, booked.get(currency) or 0
        if stock == ledger:
            continue
        account = Account.objects.filter(
            purpose=Purpose.INVENTORY, livemode=True, currency=currency
        ).first()
        found.append(
            _finding(
                F.Category.LEDGER,
                "inventory_mismatch",
                f"The inventory account says {Money(ledger, currency)} but the stock on hand "
                f"cost {Money(stock, currency)}.",
                object_type="account",
                object_id=str(account.pk if account else ""),
                details={
                    "inventory": Money(ledger, currency).to_api(),
                    "stock": Money(stock, currency).to_api(),
                },
            )
        )
    return found


def check_payments(*, since: Any) -> list[Found]:
    """Stripe's PaymentIntents since `since` against our Payment rows, and card payments
    of orders that closed without their refund."""

    P = Payment.Status
    found: list[Found] = []
    intents = get_gateway().list_payment_intents(
        created_gte=int(since.timestamp()), limit=GATEWAY_LIMIT
    )
    ours = {
        p.payment_intent_id: p
        for p in Payment.objects.filter(payment_intent_id__in=[i.id for i in intents])
    }
    for intent in intents:
        payment = ours.get(intent.id)
        if payment is not None and not payment.livemode:
            continue  # test mode's, at the simulator when it is the live gateway too
        money = str(Money(intent.amount, intent.currency))
        order_id = _int(intent.metadata.get("order_id"))
        if payment is None:
            if intent.status == "succeeded":
                found.append(
                    _finding(
                        F.Category.PAYMENTS,
                        "payment_missing",
                        f"Stripe took {money} on {intent.id} but we have no payment for it.",
                        object_type="payment_intent",
                        object_id=intent.id,
                        order_id=order_id,
                        details={"stripe_status": intent.status, "metadata": intent.metadata},
                    )
                )
            continue
        if (intent.amount, intent.currency) != (payment.amount, payment.currency):
            found.append(
                _finding(
                    F.Category.PAYMENTS,
                    "payment_amount_mismatch",
                    f"{intent.id}: Stripe has {money}, we have "
                    f"{Money(payment.amount, payment.currency)}.",
                    object_type="payment",
                    object_id=str(payment.pk),
                    order_id=payment.order_id,
                )
            )
        stripe_ok, ours_ok = intent.status == "succeeded", payment.status == P.SUCCEEDED
        if stripe_ok != ours_ok:
            found.append(
                _finding(
                    F.Category.PAYMENTS,
                    "payment_status_mismatch",
                    f"{intent.id}: Stripe says {intent.status}, we say {payment.status}.",
                    object_type="payment",
                    object_id=str(payment.pk),
                    order_id=payment.order_id,
                    details={"stripe_status": intent.status, "our_status": payment.status},
                    fix=F.Fix.SYNC,
                )
            )
    if len(intents) < GATEWAY_LIMIT:  # a truncated list cannot prove absence
        seen = {i.id for i in intents}
        for payment in Payment.objects.filter(
            livemode=True, created_at__gte=since, status=P.SUCCEEDED
        ).exclude(payment_intent_id__in=seen):
            found.append(
                _finding(
                    F.Category.PAYMENTS,
                    "payment_unknown_to_stripe",
                    f"We recorded {payment.payment_intent_id} as succeeded; Stripe does not "
                    "list it.",
                    object_type="payment",
                    object_id=str(payment.pk),
                    order_id=payment.order_id,
                )
            )
    unrefunded = Payment.objects.filter(
        livemode=True,
        kind=Payment.Kind.ORDER,
        status=P.SUCCEEDED,
        order__status__in=[S.FAILED, S.CANCELLED, S.REFUNDED],
        refunded_amount__lt=Field("amount"),
    ).select_related("order")
    for payment in unrefunded:
        left = payment.amount - payment.refunded_amount
        if (
            payment.order is not None
            and left > 0
            and not payment.refunds.filter(status="pending").exists()
        ):
            found.append(
                _finding(
                    F.Category.PAYMENTS,
                    "refund_missing",
                    f"Order {payment.order_id} is {payment.order.status} but "
                    f"{Money(left, payment.currency)} of its payment was never refunded.",
                    object_type="payment",
                    object_id=str(payment.pk),
                    order_id=payment.order_id,
                    fix=F.Fix.REFUND,
                )
            )
    found.extend(_delivered_against_payment(since=since))
    return found


def _delivered_against_payment(*, since: Any) -> list[Found]:
    """Customer orders whose delivery and payment disagree: an order standing completed
    (its eSIMs active) on a payment that never succeeded, or on one refunded in full."""

    found: list[Found] = []
    completed = Payment.objects.filter(
        livemode=True,
        kind=Payment.Kind.ORDER,
        order__status=S.COMPLETED,
        order__updated_at__gte=since,
    )
    for payment in completed.exclude(status=Payment.Status.SUCCEEDED):
        found.append(
            _finding(
                F.Category.PAYMENTS,
                "delivered_unpaid",
                f"Order {payment.order_id} delivered its eSIMs but its payment "
                f"{payment.payment_intent_id} is {payment.status}.",
                object_type="payment",
                object_id=str(payment.pk),
                order_id=payment.order_id,
                details={"payment_status": payment.status},
            )
        )
    for payment in completed.filter(refunded_amount__gte=Field("amount"), amount__gt=0):
        found.append(
            _finding(
                F.Category.PAYMENTS,
                "refunded_but_active",
                f"Order {payment.order_id} is refunded in full "
                f"({Money(payment.refunded_amount, payment.currency)}) but stands completed "
                "with its eSIMs.",
                object_type="payment",
                object_id=str(payment.pk),
                order_id=payment.order_id,
            )
        )
    return found


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _taken_back(order_ids: list[int]) -> set[int]:
    """Closed orders whose delivery the provider took back and refunded: every eSIM of an
    eSIM order revoked, or a top-up's bundle revoked (its cost reversed in the ledger)."""
    if not order_ids:
        return set()
    revoked = set(
        Order.objects.filter(livemode=True, pk__in=order_ids, kind=Order.Kind.ESIM)
        .annotate(
            esim_total=Count("esims"),
            revoked=Count("esims", filter=Q(esims__status=Esim.Status.REVOKED)),
        )
        .filter(esim_total__gt=0, esim_total=Field("revoked"))
        .values_list("pk", flat=True)
    )
    reversed_costs = set(
        Transaction.objects.filter(
            order_id__in=order_ids, kind=Transaction.Kind.ORDER_COST_REVERSAL
        ).values_list("order_id", flat=True)
    )
    return revoked | {pk for pk in reversed_costs if pk is not None}


def reconciled_providers() -> list[str]:
    """Every provider whose books we check: the configured ones, and any that recent
    orders were placed with (a provider disabled since still holds them)."""
    names = [settings.ESIM_PROVIDER, *settings.ESIM_PROVIDERS]
    names += list(Order.objects.exclude(provider="").values_list("provider", flat=True).distinct())
    return list(dict.fromkeys(n for n in names if n in PROVIDER_NAMES))


def check_provider(*, since: Any) -> list[Found]:
    """Each provider's orders since `since` against our orders and eSIMs (every provider
    in `reconciled_providers`)."""
    found: list[Found] = []
    for name in reconciled_providers():
        found += _check_one_provider(name=name, since=since)
    return found


def _check_one_provider(*, name: str, since: Any) -> list[Found]:
    """One provider's orders against ours; findings about another provider than the
    default name it, and its orders' ids carry its name."""
    default = name == settings.ESIM_PROVIDER
    found: list[Found] = []
    client = get_provider() if default else get_provider(name=name)
    provider_orders = client.list_orders(created_from=since)
    label = "" if default else f"{name}:"
    # Our reference at the provider names the order ("ttelgo-order-<id>"); older orders may
    # be known only by the provider's own reference. One query for all of them.
    prefix = provider_reference_for(0)[:-1]
    wanted_ids = {
        int(po.client_reference[len(prefix) :])
        for po in provider_orders
        if po.client_reference.startswith(prefix) and po.client_reference[len(prefix) :].isdigit()
    }
    wanted_refs = {po.reference for po in provider_orders}
    # Stock is bought by provider orders of its own, named by no order of ours: each
    # stock eSIM keeps the provider order that bought it.
    stock_batches: dict[tuple[str, bool], int] = {
        (ref, live): n
        for ref, live, n in StockEsim.objects.filter(provider_reference__in=wanted_refs)
        .order_by()
        .values_list("provider_reference", "livemode")
        .annotate(n=Count("id"))
    }
    orders = {
        o.pk: o
        for o in Order.objects.filter(
            Q(pk__in=wanted_ids) | Q(provider_reference__in=wanted_refs)
        ).annotate(esim_count=Count("esims"))
    }
    # Test mode's orders go to the simulator; when the simulator is the live provider too,
    # they are in its list but in nobody's books.
    test_orders = {pk for pk, o in orders.items() if not o.livemode}
    taken_back = _taken_back(
        [pk for pk, o in orders.items() if o.status in (S.FAILED, S.REFUNDED, S.CANCELLED)]
    )
    by_client_ref = {provider_reference_for(pk): pk for pk in orders}
    by_provider_ref = {o.provider_reference: pk for pk, o in orders.items() if o.provider_reference}
    seen_orders: set[int] = set()
    for po in provider_orders:
        order_id = by_client_ref.get(po.client_reference) or by_provider_ref.get(po.reference)
        if order_id is None and (po.reference, False) in stock_batches:
            continue  # test mode's stock, in nobody's books
        if order_id is None and (po.reference, True) in stock_batches:
            ours_in_stock = stock_batches[(po.reference, True)]
            if po.status == po.STATUS_COMPLETED and ours_in_stock != len(po.esims):
                found.append(
                    _finding(
                        F.Category.PROVIDER,
                        "stock_count_mismatch",
                        f"Stock purchase {po.reference}: the provider has {len(po.esims)} "
                        f"eSIMs, our stock has {ours_in_stock}.",
                        object_type="provider_order",
                        object_id=po.reference,
                    )
                )
            continue
        if order_id is None:
            found.append(
                _finding(
                    F.Category.PROVIDER,
                    "provider_order_unknown",
                    f"Provider order {label}{po.reference} ({po.quantity} x {po.bundle_code}, "
                    f"{po.status}) matches none of our orders.",
                    object_type="provider_order",
                    object_id=f"{label}{po.reference}",
                    details={"client_reference": po.client_reference},
                )
            )
            continue
        if order_id in test_orders:
            continue
        seen_orders.add(order_id)
        order = orders[order_id]
        esims = order.esim_count  # type: ignore[attr-defined]
        if po.status == po.STATUS_COMPLETED and order.status == S.PROVISIONING:
            found.append(
                _finding(
                    F.Category.PROVIDER,
                    "provider_order_not_delivered",
                    f"The provider completed {po.reference}; order {order_id} is still "
                    "provisioning.",
                    object_type="order",
                    object_id=str(order_id),
                    order_id=order_id,
                    fix=F.Fix.REDRIVE,
                )
            )
        elif (
            po.status == po.STATUS_COMPLETED
            and order.status in (S.FAILED, S.REFUNDED, S.CANCELLED)
            and order_id not in taken_back
        ):
            found.append(
                _finding(
                    F.Category.PROVIDER,
                    "provider_order_for_closed_order",
                    f"The provider delivered {po.reference} for order {order_id}, which is "
                    f"{order.status}: we paid for eSIMs nobody got.",
                    object_type="order",
                    object_id=str(order_id),
                    order_id=order_id,
                )
            )
        elif (
            order.status == S.COMPLETED and order.kind == Order.Kind.ESIM and esims != len(po.esims)
        ):
            found.append(
                _finding(
                    F.Category.PROVIDER,
                    "esim_count_mismatch",
                    f"Order {order_id}: the provider has {len(po.esims)} eSIMs, we have {esims}.",
                    object_type="order",
                    object_id=str(order_id),
                    order_id=order_id,
                )
            )
    # An order delivered from stock has no provider order of its own: its eSIMs are in
    # the stock purchase's (checked above).
    ours = (
        Order.objects.filter(
            livemode=True, status=S.COMPLETED, kind=Order.Kind.ESIM, created_at__gte=since
        )
        .filter(Q(provider=name) | Q(provider="") if default else Q(provider=name))
        .exclude(pk__in=seen_orders)
        .exclude(esims__stock_origin__isnull=False)
    )
    for pk, reference in ours.values_list("pk", "provider_reference"):
        found.append(
            _finding(
                F.Category.PROVIDER,
                "esim_missing_at_provider",
                f"Order {pk} is completed but {name} lists no order for it "
                f"({reference or 'no reference'}).",
                object_type="order",
                object_id=str(pk),
                order_id=pk,
            )
        )
    return found


def check_stuck(*, since: Any) -> list[Found]:
    now = timezone.now()
    rules = (
        (S.PAID, STUCK_AFTER, "order_stuck_paid", F.Fix.REDRIVE),
        (S.PROVISIONING, STUCK_AFTER, "order_stuck_provisioning", F.Fix.REDRIVE),
        (S.IN_REVIEW, STALE_AFTER, "review_overdue", F.Fix.RESOLVE),
        (S.AWAITING_PAYMENT, STALE_AFTER, "order_stale_awaiting_payment", F.Fix.RESOLVE),
    )
    found: list[Found] = []
    for status, age, code, fix in rules:
        for pk, updated in Order.objects.filter(
            livemode=True, status=status, updated_at__lt=now - age
        ).values_list("pk", "updated_at"):
            found.append(
                _finding(
                    F.Category.STUCK,
                    code,
                    f"Order {pk} has been {status} since {updated:%Y-%m-%d %H:%M} UTC.",
                    object_type="order",
                    object_id=str(pk),
                    order_id=pk,
                    fix=fix,
                )
            )
    return found


@dataclass
class _Money:
    """What an order took and gave back, in minor units."""

    charged: int = 0
    refunded: int = 0
    by_operators: int = 0  # refunds an operator decided (audited), not eSIM refunds


def _order_money(orders: list[Order]) -> dict[int, _Money]:
    """For each order: what was charged (card payment or vendor charge), refunded, and
    refunded by an operator's decision. Three queries for all of them."""
    money = {o.pk: _Money() for o in orders}
    for order_id, amount, refunded, status in Payment.objects.filter(
        kind=Payment.Kind.ORDER, order_id__in=list(money)
    ).values_list("order_id", "amount", "refunded_amount", "status"):
        if status == Payment.Status.SUCCEEDED:
            money[order_id].charged, money[order_id].refunded = amount, refunded
    for order_id, total in (
        Refund.objects.filter(
            payment__order_id__in=list(money),
            status=Refund.Status.SUCCEEDED,
            actor__isnull=False,
            key="",
        )
        .values_list("payment__order_id")
        .annotate(total=Sum("amount"))
    ):
        money[order_id].by_operators += total or 0
    # A vendor order's charge debits its wallet; each refund debits the refunds account.
    legs = (
        Entry.objects.filter(
            transaction__order_id__in=list(money),
            transaction__kind__in=(Transaction.Kind.ORDER_CHARGE, Transaction.Kind.ORDER_REFUND),
            amount__gt=0,
        )
        .values_list(
            "transaction__order_id",
            "transaction__kind",
            "transaction__actor_id",
            "transaction__reference",
        )
        .annotate(total=Sum("amount"))
    )
    for order_id, kind, actor_id, reference, total in legs:
        row = money[order_id]
        if kind == Transaction.Kind.ORDER_CHARGE:
            row.charged += total
        else:
            row.refunded += total
            # An eSIM refund an operator approved is still an eSIM refund.
            if actor_id is not None and not reference.startswith("esim_refund:"):
                row.by_operators += total
    return money


def check_refunds(*, since: Any) -> list[Found]:
    """Refunds against revoked eSIMs, on orders with refunds or revocations since `since`:
    an eSIM order whose refunds exceed the share of its revoked eSIMs (besides what
    operators chose to give back), and an eSIM revoked without its money back (no
    refunded eSIM refund, and its order not refunded in full). And stock given back whose
    provider refund is overdue (`_stock_refunds_overdue`)."""

    lapsed = timezone.now() - timedelta(seconds=CLAIM_SECONDS)
    order_ids = set(
        Refund.objects.filter(
            status=Refund.Status.SUCCEEDED, completed_at__gte=since, payment__order__isnull=False
        ).values_list("payment__order_id", flat=True)
    )
    order_ids |= {
        pk
        for pk in Transaction.objects.filter(
            kind=Transaction.Kind.ORDER_REFUND, created_at__gte=since
        ).values_list("order_id", flat=True)
        if pk is not None
    }
    revoked_esims = Esim.objects.filter(status=Esim.Status.REVOKED, updated_at__gte=since)
    order_ids |= set(revoked_esims.values_list("order_id", flat=True))
    orders = list(
        Order.objects.filter(
            pk__in=order_ids,
            livemode=True,
            kind=Order.Kind.ESIM,
            status__in=(S.COMPLETED, S.REFUNDED, S.FAILED),
        ).prefetch_related("esims")
    )
    money = _order_money(orders)
    refunded_esims = set(
        EsimRefund.objects.filter(order__in=orders)
        .filter(
            Q(status=EsimRefund.Status.REFUNDED)
            | Q(status=EsimRefund.Status.REFUNDING, claimed_at__gte=lapsed)
        )
        .values_list("esim_id", flat=True)
    )
    found: list[Found] = []
    for order in orders:
        esims = list(order.esims.all())
        revoked = [e for e in esims if e.status == Esim.Status.REVOKED]
        paid = money[order.pk]
        share = sum(esim_refund_share(order=order, esim=e)[0].amount for e in revoked)
        unexplained = paid.refunded - paid.by_operators
        if esims and order.status != S.FAILED and unexplained > share:
            found.append(
                _finding(
                    F.Category.REFUNDS,
                    "refunds_exceed_revoked",
                    f"Order {order.pk} paid back {Money(unexplained, order.currency)} besides "
                    f"what operators refunded, but its {len(revoked)} revoked eSIM(s) stand "
                    f"for {Money(share, order.currency)}.",
                    object_type="order",
                    object_id=str(order.pk),
                    order_id=order.pk,
                    details={
                        "refunded": Money(paid.refunded, order.currency).to_api(),
                        "by_operators": Money(paid.by_operators, order.currency).to_api(),
                        "revoked_share": Money(share, order.currency).to_api(),
                        "revoked": [e.iccid for e in revoked],
                    },
                )
            )
        if paid.refunded >= paid.charged:
            continue  # refunded in full (or never charged): every revocation is matched
        for esim in revoked:
            if esim.pk in refunded_esims:
                continue
            found.append(
                _finding(
                    F.Category.REFUNDS,
                    "esim_revoked_unrefunded",
                    f"eSIM {esim.iccid} of order {order.pk} was revoked but nobody got its "
                    "share back: no refunded eSIM refund, and the order is not refunded in "
                    "full.",
                    object_type="esim",
                    object_id=esim.iccid,
                    order_id=order.pk,
                    details={
                        "share": esim_refund_share(order=order, esim=esim)[0].to_api(),
                        "refunded": Money(paid.refunded, order.currency).to_api(),
                    },
                )
            )
    return found + _provider_credits_overdue() + _stock_refunds_overdue()


def _provider_credits_overdue() -> list[Found]:
    """Refunds a provider pays back in credit (Airalo) still not matched to a credit
    `PROVIDER_CREDIT_OVERDUE_DAYS` after the request: the receivable has not arrived."""
    days = settings.PROVIDER_CREDIT_OVERDUE_DAYS
    overdue = ProviderRefund.objects.filter(
        provider__in=CREDIT_PROVIDERS,
        status=ProviderRefund.Status.PENDING,
        created_at__lt=timezone.now() - timedelta(days=days),
        order__livemode=True,
    ).order_by("created_at", "id")
    return [
        _finding(
            F.Category.REFUNDS,
            "provider_credit_overdue",
            f"{refund.provider} has not paid back {refund.money} for eSIM {refund.iccid} "
            f"(order {refund.order_id}), asked {refund.created_at:%Y-%m-%d}: over {days} days.",
            object_type="provider_refund",
            object_id=str(refund.pk),
            order_id=refund.order_id,
            details={"provider": refund.provider, "amount": refund.money.to_api()},
        )
        for refund in overdue
    ]


def _stock_refunds_overdue() -> list[Found]:
    """Live stock given back more than STOCK_REFUND_OVERDUE_DAYS ago whose refund has not
    been seen at our provider balance (fulfilment/stock/refunds.py): still on the refund
    receivable."""
    cutoff = timezone.now() - timedelta(days=int(settings.STOCK_REFUND_OVERDUE_DAYS))
    overdue = StockEsim.objects.filter(
        livemode=True,
        status=StockEsim.Status.REVOKED,
        refund_received_at__isnull=True,
        ended_at__lt=cutoff,
        cost_amount__gt=0,
    ).order_by("ended_at", "id")
    return [
        _finding(
            F.Category.REFUNDS,
            "stock_refund_overdue",
            f"Stock eSIM {row.iccid} ({row.bundle_code}) was given back to {row.provider or 'the provider'} "
            f"on {row.ended_at:%Y-%m-%d} but its refund of {row.cost} has not reached our "
            "provider balance.",
            object_type="stock_esim",
            object_id=row.iccid,
            details={
                "amount": row.cost.to_api(),
                "given_back_at": row.ended_at.isoformat() if row.ended_at else None,
                "provider": row.provider,
            },
        )
        for row in overdue[:GATEWAY_LIMIT]
    ]


def check_payouts(*, since: Any) -> list[Found]:
    """Each payout Stripe made since `since` against stripe_clearing: every balance
    transaction it pays out must be booked at its net (gross movement and card fee), they
    must come to the payout, and a paid payout must be booked itself (bank / clearing)."""
    found: list[Found] = []
    for payout in get_gateway().list_payouts(created_gte=int(since.timestamp())):
        if payout.status not in ("paid", "in_transit"):
            continue
        result = payout_reconcile(payout=payout)
        for line in result.mismatched:
            bt = line.bt
            found.append(
                _finding(
                    F.Category.PAYOUTS,
                    "clearing_mismatch",
                    f"{bt.id} ({bt.type} {bt.source}) in payout {payout.id}: Stripe moved "
                    f"{Money(bt.net, bt.currency)} net, clearing holds "
                    f"{Money(line.booked, bt.currency)} for it.",
                    object_type="balance_transaction",
                    object_id=bt.id,
                    details={
                        "payout": payout.id,
                        "gross": bt.amount,
                        "fee": bt.fee,
                        "net": bt.net,
                        "booked": line.booked,
                        "references": line.references,
                    },
                )
            )
        if result.difference:
            found.append(
                _finding(
                    F.Category.PAYOUTS,
                    "payout_mismatch",
                    f"Payout {payout.id} of {Money(payout.amount, payout.currency)}: clearing "
                    f"holds {Money(result.booked, payout.currency)} for its transactions.",
                    object_type="payout",
                    object_id=payout.id,
                    details={"payout": payout.amount, "booked": result.booked},
                )
            )
        if payout.status == "paid" and not result.payout_booked:
            found.append(
                _finding(
                    F.Category.PAYOUTS,
                    "payout_not_booked",
                    f"Payout {payout.id} of {Money(payout.amount, payout.currency)} was paid "
                    f"but {payout_reference(payout)} is not in the ledger.",
                    object_type="payout",
                    object_id=payout.id,
                )
            )
    return found


CHECKS: dict[str, Callable[..., list[Found]]] = {
    F.Category.LEDGER: check_ledger,
    F.Category.PAYMENTS: check_payments,
    F.Category.PROVIDER: check_provider,
    F.Category.STUCK: check_stuck,
    F.Category.REFUNDS: check_refunds,
    F.Category.PAYOUTS: check_payouts,
}


# --- the run ----------------------------------------------------------------------------


def reconciliation_start(
    *, actor: Any = None, window: timedelta = DEFAULT_WINDOW, enqueue: bool = True
) -> ReconciliationRun:
    """Open a run and hand it to a worker (`reconciliation.tasks.reconciliation_execute`,
    sent on commit): an operator's click returns at once and the run's page follows its
    progress. One run at a time: while one is running (and alive), another is refused."""
    if actor is not None:
        operator_require(actor, "ttelgo.run_reconciliation")
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        runs_sweep_stale()
        running = ReconciliationRun.objects.filter(status=ReconciliationRun.Status.RUNNING).first()
        if running is not None:
            raise DomainError(
                "invalid_state",
                f"Reconciliation {running.pk} is still running; wait for it to finish.",
                details={"run_id": running.pk},
            )
        run = ReconciliationRun.objects.create(
            trigger="operator" if user else "schedule",
            actor=user,
            window_start=timezone.now() - window,
            checks_total=len(CHECKS),
            heartbeat_at=timezone.now(),
        )
        if user is not None:
            audit_record(actor=user, action="reconciliation.start", target=run)
        if enqueue:
            task_enqueue("reconciliation.tasks.reconciliation_execute", run.pk)
    return run


def reconciliation_execute(*, run_id: int) -> ReconciliationRun:
    """Run every check of an open run and store the findings, stamping each step. A check
    that cannot run (Stripe or the provider down) becomes a `check_failed` finding; the
    others still run. A run already finished (a duplicate delivery) is left alone."""
    run = ReconciliationRun.objects.get(pk=run_id)
    if run.status != ReconciliationRun.Status.RUNNING:
        return run
    since = run.window_start
    found: list[Found] = []
    summary: dict[str, int] = {}
    for done, (check, fn) in enumerate(CHECKS.items(), start=1):
        try:
            results = fn(since=since)
        except Exception as exc:  # one unreachable service must not hide the other checks
            logger.exception("reconciliation check %s failed", check)
            results = [_finding(check, "check_failed", f"The {check} check could not run: {exc}")]
        summary[check] = len(results)
        found.extend(results)
        ReconciliationRun.objects.filter(pk=run.pk, status=ReconciliationRun.Status.RUNNING).update(
            checks_done=done, summary=summary, heartbeat_at=timezone.now()
        )
    with transaction.atomic():
        finished = run_move(
            ReconciliationRun.objects.filter(pk=run.pk),
            to=ReconciliationRun.Status.COMPLETED,
            finished_at=timezone.now(),
            findings_count=len(found),
            summary=summary,
        )
        if finished:  # not swept as failed meanwhile
            ReconciliationFinding.objects.bulk_create(
                ReconciliationFinding(run=run, **f) for f in found
            )
            if run.actor_id is not None:
                audit_record(
                    actor=run.actor,
                    action="reconciliation.run",
                    target=run,
                    after={"findings": len(found), "summary": summary},
                )
    run.refresh_from_db()
    return run


def reconciliation_run(
    *, actor: Any = None, window: timedelta = DEFAULT_WINDOW
) -> ReconciliationRun:
    """Start a run and execute it here and now (the daily beat job, a worker already)."""
    run = reconciliation_start(actor=actor, window=window, enqueue=False)
    return reconciliation_execute(run_id=run.pk)


def runs_sweep_stale() -> int:
    """Runs whose worker stopped stamping them (killed, lost) are marked failed, so the
    page stops waiting and a new run can start. Returns how many."""
    stale = timezone.now() - timedelta(seconds=settings.RECONCILIATION_STALE_SECONDS)
    return run_move(
        ReconciliationRun.objects.filter(heartbeat_at__lt=stale),
        to=ReconciliationRun.Status.FAILED,
        finished_at=timezone.now(),
        error="The worker running it stopped (no progress for "
        f"{settings.RECONCILIATION_STALE_SECONDS} s); run it again.",
    )


def finding_fix(*, finding_id: int, actor: Any, action: str, note: str) -> ReconciliationFinding:
    """Apply a fix to an open finding and mark it resolved with the note. The fix itself
    goes through the owning service (which checks its own permission and audits)."""
    operator_require(actor, "ttelgo.run_reconciliation")
    if not note.strip():
        raise DomainError("validation_error", "Say what was done.", details={"note": ["Required."]})
    finding = ReconciliationFinding.objects.get(pk=finding_id)
    if not FINDING_STATES.may("fix", finding.status):
        raise DomainError("invalid_state", "This finding is already resolved.")
    if action not in (F.Fix.RESOLVE, finding.fix):
        raise DomainError(
            "validation_error",
            f"This finding offers {finding.fix} or resolve, not {action}.",
            details={"action": [f"Choose {finding.fix} or resolve."]},
        )
    # Claim the finding first (compare-and-set), so two operators fixing it at once apply
    # the fix once; if the fix is refused, the claim is released and the finding reopens.
    changed = finding_move(
        finding.pk,
        to=F.Status.RESOLVED,
        expected=F.Status.OPEN,
        resolution=f"{action}: {note.strip()}",
        resolved_by=actor if getattr(actor, "is_authenticated", False) else None,
        resolved_at=timezone.now(),
    )
    if changed != 1:
        raise DomainError("invalid_state", "This finding was resolved meanwhile.")
    try:
        _apply_fix(finding, action=action, actor=actor, note=note)
    except Exception:
        finding_move(
            finding.pk,
            to=F.Status.OPEN,
            expected=F.Status.RESOLVED,
            resolution="",
            resolved_by=None,
            resolved_at=None,
        )
        raise
    finding.refresh_from_db()
    audit_record(
        actor=actor,
        action=f"reconciliation.{action}",
        target=finding,
        before={"status": F.Status.OPEN, "code": finding.code},
        after={"status": finding.status, "order_id": finding.order_id},
        reason=note,
    )
    return finding


def _apply_fix(finding: ReconciliationFinding, *, action: str, actor: Any, note: str) -> None:
    if action == F.Fix.REDRIVE:
        operator_order_redrive(order_id=_required_order(finding), actor=actor, reason=note)
    elif action == F.Fix.REFUND:
        operator_order_refund(
            order_id=_required_order(finding), actor=actor, amount=None, reason=note
        )
    elif action == F.Fix.SYNC:
        payment_intent_sync(payment_intent_id=_intent_of(finding))


def _required_order(finding: ReconciliationFinding) -> int:
    if finding.order_id is None:
        raise DomainError("invalid_state", "This finding is not about an order.")
    return finding.order_id


def _intent_of(finding: ReconciliationFinding) -> str:

    if finding.object_type == "payment_intent":
        return finding.object_id
    return Payment.objects.values_list("payment_intent_id", flat=True).get(
        pk=int(finding.object_id)
    )


CSV_FIELDS = (
    "id",
    "category",
    "code",
    "message",
    "object_type",
    "object_id",
    "order_id",
    "fix",
    "status",
    "resolution",
    "resolved_at",
)


def findings_csv(*, run: ReconciliationRun) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_FIELDS)
    for finding in run.findings.order_by("category", "id"):
        # Ids and messages come from Stripe and the provider: never let a spreadsheet run them.
        writer.writerow([csv_text(getattr(finding, name)) for name in CSV_FIELDS])
    return out.getvalue()
