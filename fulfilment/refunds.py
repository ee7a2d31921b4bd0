"""Refunds of unused eSIMs, asked for by the customer or the vendor who bought them.

An eSIM that was never installed, asked for within `ESIM_REFUND_WINDOW_DAYS` of its
order's completion, is taken back at the provider (`fulfilment.revocation`) and its share
of the order is paid back: to the card for a customer, to the wallet or off the
receivable for a vendor. An installed or used eSIM, one outside the window, or one already
refunded is refused with `refund_not_allowed` and the reason in `details`. A request on a
disputed order is left to operators (`in_review`), who refund or reject it in the console.
The provider is asked outside any transaction; nothing moves if it refuses."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing.services import (
    vendor_order_refund,
    vendor_order_refund_posted,
    vendor_order_refundable,
)
from fulfilment.emails import customer_email
from fulfilment.models import Esim, EsimRefund
from fulfilment.notifications import order_refunded_notify
from fulfilment.revocation import esim_in_use, esim_refund_share, esim_revoke
from fulfilment.state import ESIM_REFUND_STATES
from orders.lock_objects import order_qs_select_for_update
from orders.models import Order
from orders.receivers import order_refund_recorded
from payments.models import Payment, Refund
from payments.services import payment_refund, payment_refunds_in_flight
from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.permissions import operator_require
from ttelgo.state import transition_rows

logger = logging.getLogger(__name__)
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


# A carry-out that has not finished within this long is taken to have died with its
# process: the next request for the eSIM, or the sweep, takes the refund up again.
CLAIM_SECONDS = 300


def _claimable() -> Q:
    """Refunds nobody is carrying out: waiting (a payment failed), or claimed long ago."""
    lapsed = timezone.now() - timedelta(seconds=CLAIM_SECONDS)
    return Q(status=R.REQUESTED) | Q(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=lapsed), status=R.REFUNDING
    )


def _claim(refund: EsimRefund, *, start: str | None = None) -> bool:
    """Compare-and-set: move the refund to `refunding` with a fresh claim, from `start`
    (an operator's approval of `in_review`) or from a claimable state. Of any number of
    concurrent callers, the one whose update changed the row carries it out."""
    rows = EsimRefund.objects.filter(pk=refund.pk)
    if start is None:
        rows = rows.filter(_claimable())
    sources = {start} if start is not None else {R.REQUESTED, R.REFUNDING}
    # Durable: the claim is committed before the provider is asked to revoke.
    with transaction.atomic(durable=True):
        return bool(_move(rows, to=R.REFUNDING, expected=sources, claimed_at=timezone.now()))


def _move(rows: Any, *, to: str, expected: str | Iterable[str], **fields: Any) -> int:
    """The one way a refund's status moves: a conditional update through
    `ESIM_REFUND_STATES`; the row count says whether this caller moved it."""
    return transition_rows(rows, table=ESIM_REFUND_STATES, to=to, expected=expected, **fields)


def _refusal_record(refund: EsimRefund, resolution: str) -> None:
    """A claimed refund refused before anything moved (or the provider refused): rejected."""
    _move(
        EsimRefund.objects.filter(pk=refund.pk),
        to=R.REJECTED,
        expected=R.REFUNDING,
        resolution=resolution,
        resolved_at=timezone.now(),
    )


def esim_refund_request(*, esim: Esim, requested_by: str, reason: str) -> EsimRefund:
    """Refund an unused eSIM now, or queue it for operators (`in_review`). One refund per
    eSIM: a request that finds one already asked for is refused (`already_requested`),
    unless that refund was cut short (revoked, not yet paid back: it is finished now)."""
    if not reason.strip():
        raise DomainError(
            "validation_error",
            "Say why the refund is asked for.",
            details={"reason": ["Required."]},
        )
    live = EsimRefund.objects.filter(esim=esim).exclude(status=R.REJECTED).first()
    if live is not None:
        # A request cut short after the revocation (the card refund failed, the process
        # died) is carried on, by whichever request claims it.
        if live.status in (R.REQUESTED, R.REFUNDING) and _claim(live):
            return _refund_carry_out(refund=live, actor=requested_by)
        raise _not_allowed("A refund of this eSIM was already asked for.", "already_requested")
    order = _check(esim)
    price, _cost = esim_refund_share(order=order, esim=esim)
    held = order.disputed_at is not None
    refused: DomainError | None = None
    try:
        # Durable: the claimed refund is committed before the provider is asked to revoke.
        with transaction.atomic(durable=True):
            # Under the order's lock, what is left to refund is weighed against the
            # refunds of its other eSIMs under way: concurrent requests for different
            # eSIMs reserve their shares one after the other, so no more eSIMs are
            # revoked than the order can still pay back.
            order = order_qs_select_for_update().get(pk=order.pk)
            if EsimRefund.objects.filter(esim=esim).exclude(status=R.REJECTED).exists():
                raise IntegrityError  # another request for the same eSIM came first
            reserved = _reserved_by_others(order=order, refund_id=None)
            # Created claimed: the unique constraint lets one request in per eSIM.
            refund = EsimRefund.objects.create(
                esim=esim,
                order=order,
                amount=price.amount,
                currency=price.currency,
                reason=reason.strip()[:2000],
                requested_by=requested_by,
                status=R.IN_REVIEW if held else R.REFUNDING,
                claimed_at=None if held else timezone.now(),
            )
            if not held:
                try:
                    _payable_check(
                        order=order,
                        amount=refund.amount,
                        currency=refund.currency,
                        reserved=reserved,
                    )
                except DomainError as exc:  # recorded as refused, nothing revoked
                    _refusal_record(refund, exc.message)
                    refused = exc
    except IntegrityError:  # another request for the same eSIM won the race
        raise _not_allowed(
            "A refund of this eSIM was already asked for.", "already_requested"
        ) from None
    if refused is not None:
        raise refused
    if held:
        return refund
    return _refund_carry_out(refund=refund, actor=requested_by)


def esim_refunds_resume() -> list[int]:
    """Beat job: finish refunds cut short after their eSIM was revoked (a payment that
    failed, a process that died mid-way), each by the one caller that claims it. Returns
    the ids finished."""
    done: list[int] = []
    for refund in EsimRefund.objects.filter(_claimable()).order_by("id")[:100]:
        if not _claim(refund):
            continue  # someone else took it up meanwhile
        try:
            _refund_carry_out(refund=refund, actor="system")
        except DomainError as exc:
            logger.warning("eSIM refund %s not finished: %s", refund.pk, exc.message)
            continue
        done.append(refund.pk)
    return done


def _release(refund: EsimRefund) -> None:
    """The eSIM is revoked but the money did not move: back to `requested`, for a retry or
    the sweep to finish (keys derived from the refund's id make that pay once)."""
    _move(
        EsimRefund.objects.filter(pk=refund.pk),
        to=R.REQUESTED,
        expected=R.REFUNDING,
        claimed_at=None,
    )


def _refund_carry_out(*, refund: EsimRefund, actor: Any) -> EsimRefund:
    """Revoke at the provider, then pay back; a refusal leaves nothing half-done. Runs
    only for the caller that claimed the refund (`refunding`). The money moves under the
    refund's own id: the ledger posts "esim_refund:<id>" once, and the card refund has
    one row and one gateway idempotency key per eSIM refund, so a carry-out taken up
    again after a crash pays what is left to pay, never twice."""
    order = Order.objects.get(pk=refund.order_id)
    esim = Esim.objects.get(pk=refund.esim_id)
    if esim.status != Esim.Status.REVOKED:
        try:
            _payable_check(
                order=order,
                amount=refund.amount,
                currency=refund.currency,
                reserved=_reserved_by_others(order=order, refund_id=refund.pk),
            )
        except DomainError as exc:
            _refusal_record(refund, exc.message)
            raise
    try:
        revoked = esim_revoke(order=order, esim=esim, actor=actor)
    except DomainError:
        _refusal_record(refund, "the provider could not be reached")
        raise
    if not revoked:
        _refusal_record(refund, "the provider says the eSIM is in use")
        raise _not_allowed("The eSIM is already in use, so it cannot be refunded.", "installed")
    amount = refund.money
    key = f"esim_refund:{refund.pk}"
    try:
        if order.channel == Order.Channel.B2B:
            with transaction.atomic():
                order_vendor_refund(
                    order_id=order.pk,
                    amount=amount,
                    actor=actor,
                    reason=refund.reason,
                    reference=key,
                )
                _refunded(refund)
        else:
            payment = Payment.objects.get(order=order, kind=Payment.Kind.ORDER)
            payment_refund(payment=payment, amount=amount, reason=refund.reason, key=key)
            with transaction.atomic():
                if _refunded(refund):
                    customer_email(
                        order=order, kind="esim_refund_done", iccid=esim.iccid, amount=str(amount)
                    )
    except DomainError:
        if not Order.objects.filter(pk=order.pk, status=Order.Status.REFUNDED).exists():
            _release(refund)
            raise
        # An operator refunded the whole order meanwhile: that paid this share too.
        _move(
            EsimRefund.objects.filter(pk=refund.pk),
            to=R.REFUNDED,
            expected=R.REFUNDING,
            resolution="paid back by the order's full refund",
            resolved_at=timezone.now(),
        )
    except Exception:
        _release(refund)
        raise
    refund.refresh_from_db()
    return refund


def _reserved_by_others(*, order: Order, refund_id: int | None) -> int:
    """What the order's other eSIM refunds under way (claimed or cut short, not yet paid)
    will still take from it, minor units. A card refund already made or waiting at the
    gateway for one of them is counted by the payment itself, not again here."""
    under_way = EsimRefund.objects.filter(order=order, status__in=(R.REQUESTED, R.REFUNDING))
    if refund_id is not None:
        under_way = under_way.exclude(pk=refund_id)
    if order.channel != Order.Channel.B2B:
        at_gateway = Refund.objects.filter(
            payment__order=order,
            key__in=[f"esim_refund:{pk}" for pk in under_way.values_list("pk", flat=True)],
        ).exclude(status=Refund.Status.FAILED)
        under_way = under_way.exclude(
            pk__in=[int(k.partition(":")[2]) for k in at_gateway.values_list("key", flat=True)]
        )
    return sum(under_way.values_list("amount", flat=True))


def _payable_check(*, order: Order, amount: int, currency: str, reserved: int) -> None:
    """Whether a refund of `amount` can move, asked before the eSIM is revoked: a refund
    that would be refused the money (the order refunded meanwhile, in full or so far that
    less than this share is left once the refunds of its other eSIMs under way are paid)
    takes nothing back."""
    if order.channel == Order.Channel.B2B:
        left = (
            vendor_order_refundable(order_id=order.pk).amount
            if order.status == Order.Status.COMPLETED
            else 0
        )
    else:
        payment = Payment.objects.filter(
            order=order, kind=Payment.Kind.ORDER, status=Payment.Status.SUCCEEDED
        ).first()
        left = (
            payment.amount - payment.refunded_amount - payment_refunds_in_flight(payment=payment)
            if payment is not None
            else 0
        )
    left -= reserved
    if left < amount:
        raise _not_allowed(
            f"Less than this eSIM's share ({Money(amount, currency)}) is left to refund on "
            "its order.",
            "order_not_refundable",
            order_status=order.status,
            refundable=Money(max(left, 0), currency).to_api(),
        )


def _refunded(refund: EsimRefund) -> bool:
    return bool(
        _move(
            EsimRefund.objects.filter(pk=refund.pk),
            to=R.REFUNDED,
            expected=R.REFUNDING,
            resolved_at=timezone.now(),
        )
    )


def operator_esim_refund_approve(*, refund_id: int, actor: Any, note: str = "") -> EsimRefund:
    """An operator refunds an eSIM refund request held for review. Approving twice (two
    operators at once) carries it out once: the approval claims the request."""
    operator_require(actor, "ttelgo.refund_any")
    refund = EsimRefund.objects.get(pk=refund_id)
    if not ESIM_REFUND_STATES.may("review", refund.status) or not _claim(refund, start=R.IN_REVIEW):
        refund.refresh_from_db()
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
        changed = _move(
            EsimRefund.objects.filter(pk=refund_id),
            to=R.REJECTED,
            expected=ESIM_REFUND_STATES.actions["review"],
            resolution=note.strip(),
            resolved_at=timezone.now(),
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


def order_vendor_refund(
    *,
    order_id: int,
    amount: Money | None,
    actor: Any = None,
    reason: str = "",
    reference: str = "",
) -> tuple[Order, Money]:
    """Give a completed vendor order's charge back, all of what is left (`amount=None`) or
    part of it, to the vendor's wallet (prepaid) or off its receivable (postpaid). A full
    refund moves the order to `refunded`; either way the vendor gets `order.refunded`.
    Returns the order and the amount refunded now.

    `reference` names what the refund pays back (an eSIM refund: "esim_refund:<id>"):
    the ledger posts once per reference, and a refund already posted under it is returned
    as it was, with no second event. Without one, each call is a refund of its own."""
    with transaction.atomic():
        # The order row is the lock: two refunds of one order run one after the other.
        order = order_qs_select_for_update().get(pk=order_id)
        if reference:
            posted = vendor_order_refund_posted(reference=reference)
            if posted is not None:
                return order, posted
        if order.channel != Order.Channel.B2B or order.status != Order.Status.COMPLETED:
            raise DomainError(
                "invalid_state",
                "Only a completed vendor order can be refunded to the vendor.",
                details={"status": order.status, "channel": order.channel},
            )
        refundable = vendor_order_refundable(order_id=order_id)
        if refundable.amount <= 0:
            raise DomainError(
                "invalid_state",
                "This order is already refunded in full.",
                details={"status": order.status},
            )
        value = refundable if amount is None else amount
        vendor_order_refund(
            order_id=order_id,
            amount=value,
            reference=reference or f"order:{order_id}:refund:{uuid.uuid4().hex[:12]}",
            actor=actor,
        )
        order = order_refund_recorded(
            order_id=order_id,
            fully_refunded=value.amount == refundable.amount,
            actor=actor,
            reason=reason,
        )
        order_refunded_notify(order=order, refund=value)
        return order, value
