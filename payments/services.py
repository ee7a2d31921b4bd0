"""Payment services: creating PaymentIntents, following their state, refunds, disputes.

Stripe is the source of truth for an intent's state. Event handlers never trust the order
events arrive in: `payment_intent_sync` re-reads the intent through the gateway and moves
our row forward with compare-and-set, so `succeeded` before `processing` ends the same.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing import services as billing
from billing.models import Invoice
from ledger import services as ledger
from ledger.models import Transaction
from payments.gateways import GatewayError, GatewayIntent, GatewayRefund, get_gateway
from payments.lock_objects import payment_qs_select_for_update
from payments.models import Payment, PaymentProfile, Refund
from payments.receipts import topup_receipt_enqueue
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.ops_email import ops_email_send
from ttelgo.outbox import event_record, task_enqueue
from ttelgo.state import StateTable, transition, transition_rows

logger = logging.getLogger(__name__)
P = Payment.Status

# Stripe intent status -> ours. `requires_payment_method` is "failed" only when the last
# attempt left an error (otherwise nobody has tried to pay yet).
_FROM_GATEWAY = {
    "processing": P.PROCESSING,
    "succeeded": P.SUCCEEDED,
    "canceled": P.CANCELED,
}
# Where our row may go from each status. Stripe lets a customer retry after a decline,
# so `failed` is not final; `succeeded` and `canceled` are.
PAYMENT_STATES = StateTable.of(
    "Payment",
    {
        P.PENDING: {P.PROCESSING, P.SUCCEEDED, P.FAILED, P.CANCELED},
        P.PROCESSING: {P.SUCCEEDED, P.FAILED, P.CANCELED, P.PENDING},
        P.FAILED: {P.PROCESSING, P.SUCCEEDED, P.CANCELED, P.PENDING},
        P.SUCCEEDED: set(),
        P.CANCELED: set(),
    },
)
# Where a card refund may go: the gateway made it or refused it; one we marked failed
# (say, a timeout) may have gone through after all, or is asked again under its key.
REFUND_STATES = StateTable.of(
    "Refund",
    {
        Refund.Status.PENDING: {Refund.Status.SUCCEEDED, Refund.Status.FAILED},
        Refund.Status.FAILED: {Refund.Status.SUCCEEDED, Refund.Status.PENDING},
        Refund.Status.SUCCEEDED: set(),
    },
)


def _refund_move(refund_id: int, *, to: str, expected: str | frozenset[str], **fields: Any) -> int:
    """Move a card refund to `to` from `expected` in one conditional update; 1 if it moved."""
    return transition_rows(
        Refund.objects.filter(pk=refund_id), table=REFUND_STATES, to=to, expected=expected, **fields
    )


def _status_of(intent: GatewayIntent) -> str:
    if intent.status in _FROM_GATEWAY:
        return _FROM_GATEWAY[intent.status]
    if intent.status == "requires_payment_method" and intent.failure_message:
        return P.FAILED
    return P.PENDING


# Gateway refusals that are the caller's input, not the provider's fault.
_INPUT_ERRORS = frozenset({"amount_too_small", "amount_too_large", "invalid_currency"})


def _gateway_failed(exc: GatewayError) -> DomainError:
    if exc.code in _INPUT_ERRORS:
        return DomainError(
            "validation_error",
            exc.message,
            details={"amount": [exc.message], "provider_code": exc.code},
        )
    return DomainError(
        "payment_provider_error",
        f"The payment provider refused the request: {exc.message}",
        details={"provider_code": exc.code},
    )


# --- creating intents -------------------------------------------------------------------


def payment_create_for_order(*, order: Any, save_card: bool = False) -> Payment:
    """The PaymentIntent a customer pays an order with. Calling it again for the same order
    returns the same payment (Stripe's idempotency key and our unique constraint agree).
    With `save_card`, the card is kept (with the customer's consent) for auto top-ups."""
    existing = Payment.objects.filter(order_id=order.pk, kind=Payment.Kind.ORDER).first()
    if existing is not None:
        return existing
    amount = Money(order.total, order.currency)
    metadata = {
        "kind": Payment.Kind.ORDER,
        "order_id": str(order.pk),
        "customer_id": str(order.customer_id or ""),
    }
    customer = ""
    if save_card and order.customer_id is not None:
        customer = payment_profile_ensure(user=order.customer).stripe_customer_id
        metadata["save_card"] = "1"
    try:
        intent = get_gateway().create_payment_intent(
            amount=amount,
            metadata=metadata,
            idempotency_key=f"order:{order.pk}:payment_intent",
            customer=customer,
            save_card=bool(customer),
        )
    except GatewayError as exc:
        raise _gateway_failed(exc) from exc
    return _order_payment_record(order=order, intent=intent, amount=amount)


def _order_payment_record(*, order: Any, intent: GatewayIntent, amount: Money) -> Payment:
    try:
        with transaction.atomic():
            return Payment.objects.create(
                kind=Payment.Kind.ORDER,
                payment_intent_id=intent.id,
                client_secret=intent.client_secret,
                amount=amount.amount,
                currency=amount.currency,
                order_id=order.pk,
            )
    except IntegrityError:
        return Payment.objects.get(order_id=order.pk, kind=Payment.Kind.ORDER)


def payment_profile_ensure(*, user: Any) -> PaymentProfile:
    """The customer's gateway customer, created once (an HTTP call the first time)."""
    profile = PaymentProfile.objects.filter(user=user).first()
    if profile is not None:
        return profile
    try:
        customer_id = get_gateway().create_customer(
            email=user.email, idempotency_key=f"user:{user.pk}:customer"
        )
    except GatewayError as exc:
        raise _gateway_failed(exc) from exc
    profile, _ = PaymentProfile.objects.get_or_create(
        user=user, defaults={"stripe_customer_id": customer_id}
    )
    return profile


def saved_card_of(user: Any) -> PaymentProfile | None:
    """The customer's profile when it holds a card saved for off-session payments."""
    return PaymentProfile.objects.filter(user=user).exclude(payment_method_id="").first()


def payment_off_session(*, order: Any, profile: PaymentProfile, idempotency_key: str) -> str:
    """Charge the customer's saved card for `order` without them. Returns "succeeded"
    (the payment webhook pays the order as usual), "action_required" (the bank asks the
    customer to authenticate: the intent waits for them, its client secret on the
    payment) or "declined". Runs outside any transaction (an HTTP call)."""
    amount = Money(order.total, order.currency)
    metadata = {
        "kind": Payment.Kind.ORDER,
        "order_id": str(order.pk),
        "customer_id": str(order.customer_id or ""),
        "off_session": "1",
    }
    try:
        intent = get_gateway().create_payment_intent(
            amount=amount,
            metadata=metadata,
            idempotency_key=idempotency_key,
            customer=profile.stripe_customer_id,
            off_session_payment_method=profile.payment_method_id,
        )
    except GatewayError as exc:
        if exc.code == "authentication_required" and exc.payment_intent_id:
            waiting = get_gateway().retrieve_payment_intent(exc.payment_intent_id)
            _order_payment_record(order=order, intent=waiting, amount=amount)
            return "action_required"
        if exc.payment_intent_id or exc.code in ("card_declined", "expired_card"):
            return "declined"
        raise _gateway_failed(exc) from exc
    payment = _order_payment_record(order=order, intent=intent, amount=amount)
    # Paid now, not only when the event lands: the intent in hand is the gateway's answer.
    _payment_apply_intent(payment_id=payment.pk, intent=intent)
    return "succeeded"


def payment_create_for_wallet_topup(*, vendor: Any, amount: Money) -> Payment:
    """A PaymentIntent that credits the vendor's wallet once Stripe confirms it."""
    if amount.amount <= 0:
        raise DomainError("validation_error", "The amount must be greater than zero.")
    if amount.currency != vendor.currency:
        raise DomainError(
            "validation_error",
            f"Wallet top-ups are in the wallet's currency, {vendor.currency}.",
            details={"amount": [f"Currency must be {vendor.currency}."]},
        )
    return _vendor_payment_create(kind=Payment.Kind.WALLET_TOPUP, vendor=vendor, amount=amount)


def _vendor_payment_create(
    *,
    kind: str,
    vendor: Any,
    amount: Money,
    invoice: Invoice | None = None,
    idempotency_key: str = "",
) -> Payment:
    """A vendor's PaymentIntent and its payment row. The gateway call is idempotent on
    `idempotency_key` (by default one of the row's own reference), and the row on the
    intent's id: the same key gives the same intent and the same row, however many ask."""
    reference = uuid.uuid4()
    metadata = {"kind": kind, "vendor_id": str(vendor.pk)}
    if invoice is not None:
        metadata["invoice_id"] = str(invoice.pk)
    try:
        intent = get_gateway(vendor.livemode).create_payment_intent(
            amount=amount,
            metadata=metadata,
            idempotency_key=idempotency_key or f"payment:{reference}:create",
        )
    except GatewayError as exc:
        raise _gateway_failed(exc) from exc
    payment, _ = Payment.objects.get_or_create(
        payment_intent_id=intent.id,
        defaults={
            "reference": reference,
            "kind": kind,
            "livemode": vendor.livemode,
            "client_secret": intent.client_secret,
            "amount": amount.amount,
            "currency": amount.currency,
            "vendor": vendor,
            "invoice": invoice,
        },
    )
    return payment


def payment_create_for_invoice(*, vendor: Any, invoice_id: int) -> Payment:
    """A PaymentIntent for what is still due on one of a postpaid vendor's invoices; once
    Stripe confirms it, the receivable is credited and that invoice settled first.

    One intent per amount due: while the invoice owes the same amount, every request (any
    Idempotency-Key, at the same time or later) gets the same open intent, so a vendor
    paying each intent it was handed pays the invoice once. A new intent is made only
    once the amount due changed or the open one was canceled."""
    invoice = Invoice.objects.filter(pk=invoice_id, vendor=vendor).first()
    if invoice is None:
        raise DomainError("not_found", "Invoice not found.")
    due = invoice.outstanding
    if invoice.status == Invoice.Status.PAID or due <= 0:
        raise DomainError(
            "invalid_state",
            f"{invoice.number} is paid; nothing is due on it.",
            details={"status": invoice.status},
        )
    attempts = Payment.objects.filter(invoice=invoice, kind=Payment.Kind.INVOICE)
    open_one = (
        attempts.filter(amount=due, status__in=(P.PENDING, P.PROCESSING, P.FAILED))
        .order_by("id")
        .first()
    )
    if open_one is not None:
        return open_one
    canceled = attempts.filter(status=P.CANCELED).count()
    return _vendor_payment_create(
        kind=Payment.Kind.INVOICE,
        vendor=vendor,
        amount=Money(due, invoice.currency),
        invoice=invoice,
        idempotency_key=(
            f"invoice:{invoice.pk}:paid:{invoice.paid_amount}:due:{due}:canceled:{canceled}:create"
        ),
    )


def payment_cancel_for_order(*, order_id: int) -> Payment:
    """Cancel the order's PaymentIntent. `invalid_state` once money is (being) taken."""
    payment = Payment.objects.filter(order_id=order_id, kind=Payment.Kind.ORDER).first()
    if payment is None:
        raise DomainError("not_found", f"Order {order_id} has no payment.")
    if payment.status == P.CANCELED:
        return payment
    if payment.status in (P.SUCCEEDED, P.PROCESSING):
        raise DomainError(
            "invalid_state",
            f"The payment is {payment.status} and can no longer be cancelled.",
            details={"payment_status": payment.status},
        )
    try:
        intent = get_gateway(payment.livemode).cancel_payment_intent(
            payment.payment_intent_id, idempotency_key=f"payment:{payment.reference}:cancel"
        )
    except GatewayError as exc:
        if exc.state_conflict:
            raise DomainError(
                "invalid_state",
                "The payment can no longer be cancelled.",
                details={"provider_code": exc.code},
            ) from exc
        raise _gateway_failed(exc) from exc
    return _payment_apply_intent(payment_id=payment.pk, intent=intent)


# --- following the intent's state -------------------------------------------------------


def payment_intent_sync(*, payment_intent_id: str) -> Payment | None:
    """Bring our payment in line with the intent's state at the gateway (the handler of
    every payment_intent.* event). None when the intent is not ours."""
    payment = Payment.objects.filter(payment_intent_id=payment_intent_id).first()
    if payment is None:
        return None
    intent = get_gateway(payment.livemode).retrieve_payment_intent(payment_intent_id)
    return _payment_apply_intent(payment_id=payment.pk, intent=intent)


def _payment_apply_intent(*, payment_id: int, intent: GatewayIntent) -> Payment:
    with transaction.atomic():
        payment = payment_qs_select_for_update().get(pk=payment_id)
        old, new = payment.status, _status_of(intent)
        if new == old and not (
            new == P.FAILED and intent.failure_message != payment.failure_reason
        ):
            return payment
        if new != old and not PAYMENT_STATES.can(old, new):
            return payment  # a stale view of an intent that already moved on
        fields: dict[str, Any] = {}
        if new == P.FAILED:
            fields["failure_reason"] = intent.failure_message[:1000]
        if new == old:  # failed again, with another decline message
            Payment.objects.filter(pk=payment_id).update(updated_at=timezone.now(), **fields)
            payment.refresh_from_db()
            return payment
        if new == P.SUCCEEDED:
            fields["succeeded_at"] = timezone.now()
            fields["failure_reason"] = ""  # an earlier decline is not this payment's end
            _card_keep(payment=payment, intent=intent)
        payment, _ = transition(
            Payment, pk=payment_id, table=PAYMENT_STATES, to=new, expected=old, **fields
        )
        _on_status_changed(payment=payment, new=new)
        return payment


def _card_keep(*, payment: Payment, intent: GatewayIntent) -> None:
    """A payment made with "save my card": keep the card for off-session payments."""
    if intent.metadata.get("save_card") != "1" or not intent.payment_method:
        return
    customer_id = intent.metadata.get("customer_id")
    if customer_id:
        PaymentProfile.objects.filter(user_id=int(customer_id)).update(
            payment_method_id=intent.payment_method, card_saved_at=timezone.now()
        )


def _on_status_changed(*, payment: Payment, new: str) -> None:
    if new == P.SUCCEEDED:
        _ledger_captured(payment=payment)
        card_fees_enqueue(payment=payment)
        if payment.kind == Payment.Kind.ORDER:
            assert payment.order_id is not None
            _order_tell(payment.order_id, SUCCEEDED)
        else:
            _wallet_topup_published(payment=payment)
    elif new == P.FAILED and payment.kind == Payment.Kind.ORDER:
        assert payment.order_id is not None
        _order_tell(payment.order_id, FAILED, reason=payment.failure_reason or "declined")
    elif new == P.CANCELED and payment.kind == Payment.Kind.ORDER:
        assert payment.order_id is not None
        _order_tell(payment.order_id, CANCELED)


CARD_FEES_TASK = "payments.tasks.card_fees_book"


def card_fees_enqueue(*, payment: Payment, source: str = "") -> None:
    """Book the gateway's fee for the payment's charge (or, with `source`, a refund or a
    dispute of it) once this transaction committed: the fee is read from the gateway by
    `payments.tasks.card_fees_book` (payments/fees.py), never inside this transaction."""
    task_enqueue(CARD_FEES_TASK, payment.pk, source)


# What happened to an order's card payment, as the orders app is told it.
SUCCEEDED, FAILED, CANCELED, REFUNDED, DISPUTED = (
    "succeeded",
    "failed",
    "canceled",
    "refunded",
    "disputed",
)
ORDER_PAYMENT_TASK = "orders.tasks.order_payment_react"


def _order_tell(order_id: int, what: str, **details: Any) -> None:
    """Tell the orders app (a layer above) what happened to its order's payment: an
    outbox message for `orders.tasks.order_payment_react`, in this transaction. The order
    moves once the payment's change has committed (never without it); payments import
    nothing of orders. `details` are JSON values."""
    task_enqueue(ORDER_PAYMENT_TASK, order_id, what, details)


def _ledger_captured(*, payment: Payment) -> None:

    amount = Money(payment.amount, payment.currency)
    if payment.kind == Payment.Kind.ORDER:
        ledger.b2c_payment_captured(
            amount=amount,
            reference=f"payment:{payment.payment_intent_id}:captured",
            order_id=payment.order_id,
        )
    else:
        assert payment.vendor is not None
        billing.vendor_wallet_topup_credit(
            vendor=payment.vendor,
            amount=amount,
            reference=f"wallet_topup:{payment.payment_intent_id}",
            invoice_id=payment.invoice_id,
        )


def _wallet_topup_published(*, payment: Payment) -> None:
    if payment.vendor_id is None or payment.kind != Payment.Kind.WALLET_TOPUP:
        return
    event_record(
        vendor_id=payment.vendor_id,
        livemode=payment.livemode,
        type="wallet.topup_succeeded",
        data={
            "payment_intent_id": payment.payment_intent_id,
            "amount": Money(payment.amount, payment.currency).to_api(),
        },
    )
    topup_receipt_enqueue(payment=payment)


def payment_card_record(*, payment_intent_id: str, fingerprint: str, country: str) -> bool:
    """A charge event told us which card paid: keep its fingerprint and country on the
    payment (fraud rules read them). False when the intent is not ours."""
    return bool(
        Payment.objects.filter(payment_intent_id=payment_intent_id).update(
            card_fingerprint=fingerprint[:64], card_country=country.upper()[:2]
        )
    )


# --- refunds ----------------------------------------------------------------------------


def payment_refund(
    *,
    payment: Payment,
    amount: Money | None,
    reason: str,
    actor: Any = None,
    total_limit: int | None = None,
    key: str = "",
    leave_some: bool = False,
) -> Refund:
    """Refund a succeeded payment in full (`amount=None`: whatever is left) or in part.
    `total_limit`: the most this payment's refunds may come to with this one (an
    operator's refund limit), checked under the payment's lock. `leave_some`: a partial
    refund decided on as one (nothing taken back for it); if other refunds meanwhile left
    no more than it, it is refused under the lock, since only a full refund, which takes
    the order's eSIMs back first, may empty the payment.

    Our refund row is written first and its id is the gateway idempotency key, so a retry
    never refunds twice; calling this again once nothing is left to refund is a no-op that
    returns the last refund. With `key` (what the refund pays back, e.g.
    "esim_refund:<id>"), there is one refund row per key and payment, held by a unique
    constraint: asking again returns it once it succeeded, or asks the gateway again
    under the same idempotency key (derived from the key) while it has not, so that
    thing is paid back once however often and however concurrently it is asked.

    The refund row's transaction is durable: it must have committed before the gateway
    is asked, so calling this inside a transaction raises RuntimeError."""
    with transaction.atomic(durable=True):
        locked = payment_qs_select_for_update().get(pk=payment.pk)
        if locked.status != P.SUCCEEDED:
            raise DomainError(
                "invalid_state",
                f"Only a succeeded payment can be refunded; this one is {locked.status}.",
                details={"payment_status": locked.status},
            )
        keyed = locked.refunds.filter(key=key).first() if key else None
        if keyed is not None and keyed.status == Refund.Status.SUCCEEDED:
            return keyed
        pending = locked.refunds.filter(status=Refund.Status.PENDING)
        if keyed is not None:
            pending = pending.exclude(pk=keyed.pk)
        in_flight = sum(r.amount for r in pending)
        remaining = locked.amount - locked.refunded_amount - in_flight
        if remaining <= 0 and keyed is None:
            last = locked.refunds.exclude(status=Refund.Status.FAILED).first()
            if last is not None:
                return last
        if amount is not None and amount.currency != locked.currency:
            raise DomainError(
                "validation_error",
                f"The refund must be in {locked.currency}.",
                details={"amount": [f"Currency must be {locked.currency}."]},
            )
        value = remaining if amount is None else amount.amount
        if keyed is not None:
            value = keyed.amount  # the same refund again: the gateway sees the same request
        if value <= 0 or value > remaining:
            raise DomainError(
                "validation_error",
                f"The refund must be between 0 and {Money(max(remaining, 0), locked.currency)}.",
                details={"amount": ["More than what is left to refund."]},
            )
        if leave_some and keyed is None and value >= remaining:
            raise DomainError(
                "invalid_state",
                "Other refunds left only "
                f"{Money(remaining, locked.currency)} on this payment meanwhile: refund what "
                "is left in full (the order's unused eSIMs are taken back first).",
                details={"refundable": Money(remaining, locked.currency).to_api()},
            )
        if total_limit is not None:
            refund_limit_check(
                limit=total_limit,
                already=locked.refunded_amount + in_flight,
                value=value,
                currency=locked.currency,
            )
        if keyed is not None:
            # Under the payment's lock: it moves (one still pending stays pending).
            _refund_move(
                keyed.pk,
                to=Refund.Status.PENDING,
                expected=frozenset({Refund.Status.FAILED, Refund.Status.PENDING}),
                error="",
            )
            refund = keyed
        else:
            refund = Refund.objects.create(
                payment=locked,
                amount=value,
                currency=locked.currency,
                reason=reason,
                key=key,
                actor=actor if getattr(actor, "is_authenticated", False) else None,
            )
    # Our refund row, qualified by the payment: unique even if a rolled-back outer
    # transaction lets the database hand out the same id again. A keyed refund's key is
    # what it pays back, the same on every retry.
    idempotency_key = f"payment:{locked.reference}:refund:{key or refund.pk}"
    try:
        # A keyed refund asked again: the gateway may have made it already (an answer we
        # never got), and its idempotency keys do not last forever; look first.
        made = _gateway_refund_of(payment=locked, refund=refund) if keyed is not None else None
        result = made or get_gateway(locked.livemode).refund(
            payment_intent_id=locked.payment_intent_id,
            amount=Money(value, locked.currency),
            idempotency_key=idempotency_key,
            reason=reason,
            metadata={"refund_id": str(refund.pk), "payment_id": str(locked.pk)},
        )
    except GatewayError as exc:
        _refund_move(
            refund.pk,
            to=Refund.Status.FAILED,
            expected=Refund.Status.PENDING,
            error=exc.message[:1000],
            completed_at=timezone.now(),
        )
        raise _gateway_failed(exc) from exc
    if result.status in ("failed", "canceled"):
        _refund_move(
            refund.pk,
            to=Refund.Status.FAILED,
            expected=Refund.Status.PENDING,
            gateway_refund_id=result.id,
            error=f"refund {result.status}",
            completed_at=timezone.now(),
        )
        raise DomainError("payment_provider_error", f"The refund {result.status} at the provider.")
    _refund_record(refund_id=refund.pk, gateway_refund_id=result.id, actor=actor)
    refund.refresh_from_db()
    return refund


def payment_refunds_in_flight(*, payment: Payment) -> int:
    """What the payment's refunds still waiting for the gateway come to (minor units)."""
    return sum(r.amount for r in payment.refunds.filter(status=Refund.Status.PENDING))


def _gateway_refund_of(*, payment: Payment, refund: Refund) -> GatewayRefund | None:
    """The gateway's refund made for our refund row (named in its metadata), if any."""
    for gr in get_gateway(payment.livemode).list_refunds(
        payment_intent_id=payment.payment_intent_id
    ):
        if gr.metadata.get("refund_id") == str(refund.pk) and gr.status in ("succeeded", "pending"):
            return gr
    return None


def refund_limit_check(*, limit: int, already: int, value: int, currency: str) -> None:
    """An operator's refund limit holds for an order's refunds together: splitting one
    refund into several does not get past it."""
    if already + value > limit:
        raise DomainError(
            "permission_denied",
            f"Your role may refund up to {Money(limit, currency)} of an order; "
            f"{Money(already, currency)} of it is refunded already. Ask finance.",
            details={
                "limit": Money(limit, currency).to_api(),
                "already_refunded": Money(already, currency).to_api(),
            },
        )


def payment_refund_for_order(
    *, order_id: int, reason: str, amount: Money | None = None, actor: Any = None
) -> Refund | None:
    """Refund the order's card payment (failed provisioning, late payments, operators).
    None when the order has no succeeded payment to refund."""
    payment = Payment.objects.filter(
        order_id=order_id, kind=Payment.Kind.ORDER, status=P.SUCCEEDED
    ).first()
    if payment is None:
        logger.info("order %s has no succeeded payment to refund", order_id)
        return None
    return payment_refund(payment=payment, amount=amount, reason=reason, actor=actor)


def _refund_record(*, refund_id: int, gateway_refund_id: str, actor: Any = None) -> bool:
    """pending -> succeeded exactly once (compare-and-set), with its ledger reversal and the
    order callback. Both the refund call and the `charge.refunded` handler come here."""

    with transaction.atomic():
        refund = Refund.objects.select_related("payment").get(pk=refund_id)
        payment = payment_qs_select_for_update().get(pk=refund.payment_id)
        # A refund we marked failed (say, a timeout) may have gone through after all.
        changed = _refund_move(
            refund_id,
            to=Refund.Status.SUCCEEDED,
            expected=frozenset({Refund.Status.PENDING, Refund.Status.FAILED}),
            gateway_refund_id=gateway_refund_id,
            completed_at=timezone.now(),
            error="",
        )
        if changed != 1:
            return False
        payment.refunded_amount += refund.amount
        payment.save(update_fields=["refunded_amount", "updated_at"])
        card_fees_enqueue(payment=payment, source=gateway_refund_id)
        amount = Money(refund.amount, refund.currency)
        if payment.kind == Payment.Kind.ORDER:
            ledger.b2c_refund(
                amount=amount, reference=f"refund:{gateway_refund_id}", order_id=payment.order_id
            )
            assert payment.order_id is not None
            who = actor or refund.actor
            _order_tell(
                payment.order_id,
                REFUNDED,
                fully_refunded=payment.fully_refunded,
                # Who asked for it: the operator who refunded, also when Stripe's
                # charge.refunded event is what settles it.
                actor_id=getattr(who, "pk", None),
                actor=who if isinstance(who, str) else "",
                reason=refund.reason,
                amount=amount.amount,
                currency=amount.currency,
            )
        else:
            _wallet_topup_refunded(
                payment=payment, amount=amount, gateway_refund_id=gateway_refund_id
            )
        return True


def _wallet_topup_refunded(*, payment: Payment, amount: Money, gateway_refund_id: str) -> None:
    """Money back to a vendor's card leaves its wallet; a part already spent is booked as
    owed (`vendor_wallet_topup_refund`) and operators are told to collect it."""

    vendor = payment.vendor
    assert vendor is not None
    _, shortfall = billing.vendor_wallet_topup_refund(
        vendor=vendor, amount=amount, reference=f"refund:{gateway_refund_id}"
    )
    body = f"Refund {gateway_refund_id} of {amount} was taken from vendor {vendor.pk}'s wallet."
    if shortfall.amount:
        body += (
            f" The wallet no longer held {shortfall} of it (spent or reserved): booked on the"
            " adjustments account; collect it from the vendor."
        )
    ops_email_send(subject=f"Wallet top-up {payment.payment_intent_id} refunded", body=body)
    task_enqueue("billing.tasks.vendor_low_balance_check", vendor.pk)


def payment_refunds_sync(*, payment_intent_id: str) -> Payment | None:
    """`charge.refunded`: record every refund the gateway knows of for this intent,
    including refunds made outside our system (the Stripe dashboard)."""
    payment = Payment.objects.filter(payment_intent_id=payment_intent_id).first()
    if payment is None:
        return None
    for gr in get_gateway(payment.livemode).list_refunds(payment_intent_id=payment_intent_id):
        if gr.status not in ("succeeded", "pending"):
            continue
        _refund_sync_one(payment=payment, gr=gr)
    payment.refresh_from_db()
    return payment


def _refund_sync_one(*, payment: Payment, gr: GatewayRefund) -> None:
    if Refund.objects.filter(gateway_refund_id=gr.id, status=Refund.Status.SUCCEEDED).exists():
        return
    ours = gr.metadata.get("refund_id")
    if ours and ours.isdigit() and Refund.objects.filter(pk=int(ours), payment=payment).exists():
        _refund_record(refund_id=int(ours), gateway_refund_id=gr.id)
        return
    with transaction.atomic():
        payment_qs_select_for_update().get(pk=payment.pk)
        # Re-checked under the payment lock: a concurrent delivery may have recorded it.
        if Refund.objects.filter(gateway_refund_id=gr.id).exists():
            return
        try:
            with transaction.atomic():
                refund = Refund.objects.create(
                    payment=payment,
                    amount=gr.amount,
                    currency=gr.currency,
                    reason=gr.metadata.get("reason", "refunded at the provider"),
                )
        except IntegrityError:
            return
        _refund_record(refund_id=refund.pk, gateway_refund_id=gr.id)


# --- disputes ---------------------------------------------------------------------------


def payment_dispute_opened(*, payment_intent_id: str, reason: str) -> Payment | None:
    """`charge.dispute.created`: flag the payment, its order and customer; tell operators."""

    with transaction.atomic():
        payment = payment_qs_select_for_update().filter(payment_intent_id=payment_intent_id).first()
        if payment is None:
            return None
        if payment.disputed_at is None:
            Payment.objects.filter(pk=payment.pk).update(disputed_at=timezone.now())
        if payment.kind == Payment.Kind.ORDER:
            assert payment.order_id is not None
            _order_tell(payment.order_id, DISPUTED, reason=reason)
        else:
            ops_email_send(
                subject=f"Dispute on wallet top-up {payment_intent_id}",
                body=f"Vendor {payment.vendor_id} disputed a wallet top-up: {reason}.",
            )
        payment.refresh_from_db()
        return payment


def payment_dispute_funds_moved(
    *, payment_intent_id: str, dispute_id: str, amount: Money, withdrawn: bool
) -> Payment | None:
    """`charge.dispute.funds_withdrawn` / `funds_reinstated`: Stripe took a disputed
    payment's money back, or returned it when the dispute was won. A customer's payment
    moves refunds / stripe_clearing; a wallet top-up leaves the wallet (what the wallet no
    longer holds is booked on adjustments, to collect). Each happens once per dispute."""

    withdrawal_reference = f"dispute:{dispute_id}:withdrawn"
    with transaction.atomic():
        payment = payment_qs_select_for_update().filter(payment_intent_id=payment_intent_id).first()
        if payment is None:
            return None
        card_fees_enqueue(payment=payment, source=dispute_id)
        if not withdrawn:
            ledger.dispute_reinstated(
                withdrawal_reference=withdrawal_reference,
                reference=f"dispute:{dispute_id}:reinstated",
            )
            return payment
        if payment.kind == Payment.Kind.ORDER:
            ledger.b2c_refund(
                amount=amount,
                reference=withdrawal_reference,
                order_id=payment.order_id,
                kind=Transaction.Kind.DISPUTE_WITHDRAWAL,
                description="Disputed card payment withdrawn",
            )
            return payment
        assert payment.vendor is not None
        _, shortfall = billing.vendor_wallet_topup_refund(
            vendor=payment.vendor,
            amount=amount,
            reference=withdrawal_reference,
            kind=Transaction.Kind.DISPUTE_WITHDRAWAL,
            description="Disputed wallet top-up withdrawn",
        )
        if shortfall.amount:
            ops_email_send(
                subject=f"Disputed wallet top-up {payment_intent_id}: {shortfall} to collect",
                body=f"Stripe withdrew {amount} for dispute {dispute_id}; vendor "
                f"{payment.vendor_id}'s wallet no longer held {shortfall} of it (booked on "
                "the adjustments account). It comes back if the dispute is won.",
            )
        return payment
