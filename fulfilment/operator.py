"""What operators do to an order that takes its eSIMs back: refunds. A full refund of a
completed order revokes what it delivered at the provider before any money moves. Each
checks the operator's role permission, calls the payments or billing service that owns
the money, and writes an audit row (who, when, before/after, why). (Review decisions,
cancels and re-drives touch only the sale: orders/operator.py.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from billing.services import vendor_order_charged, vendor_order_refundable
from fulfilment.emails import customer_email
from fulfilment.models import Esim
from fulfilment.refunds import order_vendor_refund
from fulfilment.revocation import esim_refund_share, order_esims_revoke
from orders.models import Order
from orders.state import ORDER_STATES
from payments.models import Payment
from payments.services import payment_refund, payment_refunds_in_flight, refund_limit_check
from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.permissions import operator_require

S = Order.Status


def refund_limit_for(actor: Any) -> int | None:
    """The largest refund (minor units) the operator may give; None means no limit."""
    if actor.has_perm("ttelgo.refund_any"):
        return None
    if actor.has_perm("ttelgo.refund_small"):
        return int(settings.SUPPORT_REFUND_LIMIT)
    return 0


@dataclass(frozen=True)
class WalletRefund:
    """A vendor order's refund: posted to its wallet or receivable at once."""

    amount: int
    currency: str
    status: str = "succeeded"


def _refund_within_limit(actor: Any, value: int, currency: str, *, already: int) -> None:

    limit = refund_limit_for(actor)
    if limit is not None:
        refund_limit_check(limit=limit, already=already, value=value, currency=currency)


def _take_back(order: Order, *, full: bool, actor: Any) -> None:
    """A full refund of a completed order takes back what it delivered (revoked at the
    provider) before any money moves. What is in use cannot be taken back: the refund is
    refused, and only a partial one is possible; the customer keeps the eSIM and its data.
    A partial refund revokes nothing."""
    if not full:
        return
    revocation = order_esims_revoke(order=order, actor=actor)
    if not revocation.in_use:
        return
    kept = ", ".join(revocation.in_use)
    if order.kind == Order.Kind.TOPUP:
        message = (
            f"The top-up on eSIM {kept} has already started, so it cannot be taken back: "
            "refund this order in part. The customer keeps the data left on it."
        )
    else:
        message = (
            f"eSIM {kept} is already installed or in use, so it cannot be taken back: refund "
            "this order in part. The customer keeps it and the data left on it."
        )
    details: dict[str, Any] = {"in_use": list(revocation.in_use)}
    if revocation.revoked:
        share = sum(
            (
                esim_refund_share(order=order, esim=esim)[0]
                for esim in Esim.objects.filter(iccid__in=revocation.revoked)
            ),
            Money(0, order.currency),
        )
        message += (
            f" Revoked already: {', '.join(revocation.revoked)}; their share of the order, "
            f"{share}, can be refunded."
        )
        details.update(revoked=list(revocation.revoked), revoked_share=share.to_api())
    raise DomainError("invalid_state", message, details=details)


def _amount_check(amount: Money | None, left: Money) -> int:
    """The refund asked for, in minor units: all that is `left` (None) or a part of it in
    its currency. Refused here, before anything is revoked or paid."""
    if amount is not None and amount.currency != left.currency:
        raise DomainError(
            "validation_error",
            f"The refund must be in {left.currency}.",
            details={"amount": [f"Currency must be {left.currency}."]},
        )
    value = left.amount if amount is None else amount.amount
    if value <= 0 or value > left.amount:
        raise DomainError(
            "validation_error",
            f"The refund must be between 0 and {Money(max(left.amount, 0), left.currency)}.",
            details={"amount": ["More than what is left to refund."]},
        )
    return value


def order_left_to_refund(*, order: Order) -> Money | None:
    """What of an order can still be refunded, as the refund service weighs it: a vendor
    order's charge less its refunds; a customer order's card payment less its refunds
    and those still under way. None: nothing was charged that a refund could return."""
    if order.channel == Order.Channel.B2B:
        try:
            return vendor_order_refundable(order_id=order.pk)
        except DomainError:  # never charged
            return None
    payment = Payment.objects.filter(
        order_id=order.pk, kind=Payment.Kind.ORDER, status=Payment.Status.SUCCEEDED
    ).first()
    if payment is None:
        return None
    in_flight = payment_refunds_in_flight(payment=payment)
    return Money(max(payment.amount - payment.refunded_amount - in_flight, 0), payment.currency)


def operator_order_refund(*, order_id: int, actor: Any, amount: Money | None, reason: str) -> Any:
    """Refund an order in full (`amount=None`: what is left) or in part: a customer's to
    the card through the payments refund service, a vendor's to its wallet or receivable.
    Support may refund up to SUPPORT_REFUND_LIMIT; finance any amount.

    Every check (permission, reason, the order's state, the amount against what is left,
    the operator's limit) comes before the first side effect: a refused refund revokes
    nothing. Only then does a full refund take the eSIMs back, and the money move (where
    the amount and limit are checked again under the lock)."""

    operator_require(actor, "ttelgo.refund_any", "ttelgo.refund_small")
    if not reason.strip():
        raise DomainError(
            "validation_error", "A refund needs a reason.", details={"reason": ["Required."]}
        )
    order = Order.objects.get(pk=order_id)
    if not ORDER_STATES.may("refund", order.status):
        raise DomainError(
            "invalid_state",
            f"An order that is {order.status} cannot be refunded now.",
            details={"status": order.status},
        )
    if order.channel == Order.Channel.B2B:
        if order.status != S.COMPLETED:
            raise DomainError(
                "invalid_state",
                "Only a completed vendor order can be refunded to the vendor.",
                details={"status": order.status, "channel": order.channel},
            )
        left = vendor_order_refundable(order_id=order.pk)
        if left.amount <= 0:
            raise DomainError(
                "invalid_state",
                "This order is already refunded in full.",
                details={"status": order.status},
            )
        value = _amount_check(amount, left)
        # Checked again under the order's lock; here so nothing is revoked for a refund the
        # operator may not give.
        _refund_within_limit(
            actor, value, left.currency, already=_vendor_order_charged(order.pk) - left.amount
        )
        full = value >= left.amount
        _take_back(order, full=full, actor=actor)
        return _vendor_order_refund(
            order=order, actor=actor, amount=amount, reason=reason, full=full
        )
    payment = Payment.objects.filter(
        order_id=order_id, kind=Payment.Kind.ORDER, status=Payment.Status.SUCCEEDED
    ).first()
    if payment is None:
        raise DomainError(
            "invalid_state",
            "This order has no card payment to refund.",
            details={"status": order.status, "channel": order.channel},
        )
    # What the payments service will allow: less the refunds still under way.
    in_flight = payment_refunds_in_flight(payment=payment)
    remaining = payment.amount - payment.refunded_amount - in_flight
    if remaining <= 0:
        raise DomainError(
            "invalid_state",
            "This order's payment is already refunded in full.",
            details={"status": order.status},
        )
    value = _amount_check(amount, Money(remaining, payment.currency))
    _refund_within_limit(
        actor, value, payment.currency, already=payment.refunded_amount + in_flight
    )
    full = value >= remaining
    _take_back(order, full=full, actor=actor)
    before = {
        "order_status": order.status,
        "refunded": Money(payment.refunded_amount, payment.currency).to_api(),
    }
    # The payments service commits its refund row before calling the gateway (so a retry
    # never refunds twice); the audit row follows in its own transaction.
    refund = payment_refund(
        payment=payment,
        amount=amount,
        reason=reason,
        actor=actor,
        total_limit=refund_limit_for(actor),  # re-checked under the payment's lock
        leave_some=not full,  # only a full refund, which took the eSIMs back, empties it
    )
    payment.refresh_from_db()
    order.refresh_from_db()
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="order.refund",
            target=order,
            before=before,
            after={
                "order_status": order.status,
                "refunded": Money(payment.refunded_amount, payment.currency).to_api(),
                "refund": {
                    "id": refund.pk,
                    "amount": Money(refund.amount, refund.currency).to_api(),
                    "status": refund.status,
                },
            },
            reason=reason,
        )
        # The customer hears of it, in their language, once this has committed.
        customer_email(
            order=order, kind="order_refunded", amount=str(Money(refund.amount, refund.currency))
        )
    return refund


def _vendor_order_charged(order_id: int) -> int:

    return vendor_order_charged(order_id=order_id).amount


def _vendor_order_refund(
    *, order: Order, actor: Any, amount: Money | None, reason: str, full: bool
) -> WalletRefund:

    status_before = order.status
    with transaction.atomic():
        order, refunded = order_vendor_refund(
            order_id=order.pk, amount=amount, actor=actor, reason=reason
        )
        # Read under the order's lock, which the refund still holds: exact even if another
        # refund ran at the same time. Over the operator's limit (this refund and the
        # order's earlier ones together), the whole refund rolls back.
        left = vendor_order_refundable(order_id=order.pk)
        if not full and left.amount <= 0:
            # A partial refund that other refunds meanwhile turned into the last of the
            # order: only a full refund, which takes the eSIMs back first, may empty it.
            raise DomainError(
                "invalid_state",
                f"Other refunds left only {refunded} on this order meanwhile: refund what "
                "is left in full (its unused eSIMs are taken back first).",
                details={"refundable": refunded.to_api()},
            )
        charged = _vendor_order_charged(order.pk)
        _refund_within_limit(
            actor,
            refunded.amount,
            refunded.currency,
            already=charged - left.amount - refunded.amount,
        )
        audit_record(
            actor=actor,
            action="order.refund",
            target=order,
            before={"order_status": status_before, "refundable": (left + refunded).to_api()},
            after={
                "order_status": order.status,
                "refundable": left.to_api(),
                "refund": {"amount": refunded.to_api(), "to": "vendor account"},
            },
            reason=reason,
        )
    return WalletRefund(amount=refunded.amount, currency=refunded.currency)
