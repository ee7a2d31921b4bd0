"""Refunds of unused eSIMs, asked for by the customer or the vendor who bought them.

An eSIM that was never installed, asked for within `ESIM_REFUND_WINDOW_DAYS` of its
order's completion, is taken back at the provider (`orders.esim_revocation`) and its share
of the order is paid back: to the card for a customer, to the wallet or off the
receivable for a vendor. An installed or used eSIM, one outside the window, or one already
refunded is refused with `refund_not_allowed` and the reason in `details`. A request on a
disputed order is left to operators (`in_review`), who refund or reject it in the console.
The provider is asked outside any transaction; nothing moves if it refuses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.customer_emails import customer_email
from orders.esim_records import Esim, EsimRefund
from orders.esim_revocation import esim_in_use, esim_refund_share, esim_revoke
from orders.models import Order
from orders.services import order_vendor_refund
from payments.models import Payment
from payments.services import payment_refund
from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.permissions import operator_require

R = EsimRefund.Status


def _not_allowed(message: str, reason: str, **details: Any) -> DomainError:
    return DomainError("refund_not_allowed", message, details={"reason": reason, **details})


def _check(esim: Esim) -> Order:
    order = esim.order
    if EsimRefund.objects.filter(esim=esim).exclude(status=R.REJECTED).exists():
        raise _not_allowed("A refund of this eSIM was already asked for.", "already_requested")
    if order.kind != Order.Kind.ESIM or order.status != Order.Status.COMPLETED:
        raise _not_allowed(
            f"This eSIM's order is {order.status}; it cannot be refunded.",
            "order_not_refundable",
            order_status=order.status,
        )
    if esim.status == Esim.Status.REVOKED:
        raise _not_allowed("This eSIM was already revoked.", "revoked")
    if esim_in_use(esim):
        raise _not_allowed(
            "This eSIM was installed or used, so it cannot be refunded.",
            "installed",
            esim_status=esim.status,
        )
    window = timedelta(days=settings.ESIM_REFUND_WINDOW_DAYS)
    if order.completed_at is None or timezone.now() > order.completed_at + window:
        raise _not_allowed(
            f"Refunds are possible within {settings.ESIM_REFUND_WINDOW_DAYS} days of delivery.",
            "outside_window",
            window_days=settings.ESIM_REFUND_WINDOW_DAYS,
        )
    return order


def esim_refund_request(*, esim: Esim, requested_by: str, reason: str) -> EsimRefund:
    """Refund an unused eSIM now, or queue it for operators (`in_review`)."""
    if not reason.strip():
        raise DomainError(
            "validation_error",
            "Say why the refund is asked for.",
            details={"reason": ["Required."]},
        )
    # A request cut short after the revocation (the card refund failed) is carried on.
    pending = EsimRefund.objects.filter(esim=esim, status=R.REQUESTED).first()
    if pending is not None:
        return _refund_carry_out(refund=pending, actor=requested_by)
    order = _check(esim)
    price, _cost = esim_refund_share(order=order, esim=esim)
    status = R.IN_REVIEW if order.disputed_at is not None else R.REQUESTED
    try:
        with transaction.atomic():
            refund = EsimRefund.objects.create(
                esim=esim,
                order=order,
                amount=price.amount,
                currency=price.currency,
                reason=reason.strip()[:2000],
                requested_by=requested_by,
                status=status,
            )
    except IntegrityError:  # another request for the same eSIM won the race
        raise _not_allowed(
            "A refund of this eSIM was already asked for.", "already_requested"
        ) from None
    if status == R.IN_REVIEW:
        return refund
    return _refund_carry_out(refund=refund, actor=requested_by)


def _refund_carry_out(*, refund: EsimRefund, actor: Any) -> EsimRefund:
    """Revoke at the provider, then pay back; a refusal leaves nothing half-done."""
    order = Order.objects.get(pk=refund.order_id)
    esim = Esim.objects.get(pk=refund.esim_id)
    try:
        revoked = esim_revoke(order=order, esim=esim, actor=actor)
    except DomainError:
        EsimRefund.objects.filter(pk=refund.pk, status__in=[R.REQUESTED, R.IN_REVIEW]).update(
            status=R.REJECTED,
            resolution="the provider could not be reached",
            resolved_at=timezone.now(),
        )
        raise
    if not revoked:
        EsimRefund.objects.filter(pk=refund.pk).update(
            status=R.REJECTED,
            resolution="the provider says the eSIM is in use",
            resolved_at=timezone.now(),
        )
        raise _not_allowed("The eSIM is already in use, so it cannot be refunded.", "installed")
    amount = refund.money
    if order.channel == Order.Channel.B2B:
        with transaction.atomic():
            order_vendor_refund(order_id=order.pk, amount=amount, actor=actor, reason=refund.reason)
            EsimRefund.objects.filter(pk=refund.pk).update(
                status=R.REFUNDED, resolved_at=timezone.now()
            )
    else:
        payment = Payment.objects.get(order=order, kind=Payment.Kind.ORDER)
        payment_refund(payment=payment, amount=amount, reason=refund.reason, actor=None)
        with transaction.atomic():
            EsimRefund.objects.filter(pk=refund.pk).update(
                status=R.REFUNDED, resolved_at=timezone.now()
            )
            customer_email(
                order=order, kind="esim_refund_done", iccid=esim.iccid, amount=str(amount)
            )
    refund.refresh_from_db()
    return refund


def operator_esim_refund_approve(*, refund_id: int, actor: Any, note: str = "") -> EsimRefund:
    """An operator refunds an eSIM refund request held for review."""
    operator_require(actor, "ttelgo.refund_any")
    refund = EsimRefund.objects.get(pk=refund_id)
    if refund.status != R.IN_REVIEW:
        raise DomainError("invalid_state", f"This request is {refund.status}, not in review.")
    refund = _refund_carry_out(refund=refund, actor=actor)
    with transaction.atomic():
        EsimRefund.objects.filter(pk=refund.pk).update(resolution=note)
        audit_record(actor=actor, action="esim_refund.approve", target=refund, reason=note)
    refund.refresh_from_db()
    return refund


def operator_esim_refund_reject(*, refund_id: int, actor: Any, note: str) -> EsimRefund:
    """An operator turns an eSIM refund request down, saying why."""
    operator_require(actor, "ttelgo.refund_any", "ttelgo.refund_small")
    if not note.strip():
        raise DomainError("validation_error", "Say why.", details={"note": ["Required."]})
    with transaction.atomic():
        changed = EsimRefund.objects.filter(pk=refund_id, status=R.IN_REVIEW).update(
            status=R.REJECTED, resolution=note.strip(), resolved_at=timezone.now()
        )
        if not changed:
            raise DomainError("invalid_state", "This request is not in review.")
        refund = EsimRefund.objects.select_related("order", "esim").get(pk=refund_id)
        audit_record(actor=actor, action="esim_refund.reject", target=refund, reason=note)
        customer_email(
            order=refund.order,
            kind="esim_refund_refused",
            iccid=refund.esim.iccid,
            reason=note.strip(),
        )
    return refund
