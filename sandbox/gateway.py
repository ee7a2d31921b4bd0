"""SandboxGateway: PaymentIntents and refunds kept in our own tables; state changes emit
Stripe-shaped signed events into the real webhook endpoint (see `payments.sandbox`)."""

from __future__ import annotations

import hashlib
import secrets
import time

from django.db import IntegrityError, transaction

from payments.gateways.base import (
    GatewayBalanceTransaction,
    GatewayError,
    GatewayIntent,
    GatewayPayout,
    GatewayRefund,
    metadata_str,
)
from sandbox import stripe as sandbox
from sandbox.lock_objects import sandbox_payment_intent_qs_select_for_update
from sandbox.models import SandboxPaymentIntent, SandboxRefund
from ttelgo.money import Money


def _intent(pi: SandboxPaymentIntent) -> GatewayIntent:
    error = pi.last_payment_error or {}
    return GatewayIntent(
        id=pi.id,
        client_secret=pi.client_secret,
        status=pi.status,
        amount=pi.amount,
        currency=pi.currency,
        metadata=dict(pi.metadata),
        failure_message=str(error.get("message") or ""),
        latest_charge=pi.latest_charge or None,
        created=pi.created,
        payment_method=pi.payment_method,
    )


# Like Stripe's test cards: this saved card asks for authentication when charged
# off-session (`pm_card_authenticationRequired`), this one is declined.
AUTHENTICATION_REQUIRED_CARD = "pm_card_authenticationRequired"
DECLINED_CARD = "pm_card_chargeDeclined"


def _refund(r: SandboxRefund) -> GatewayRefund:
    return GatewayRefund(
        id=r.id,
        payment_intent_id=r.payment_intent_id,
        amount=r.amount,
        currency=r.currency,
        status="succeeded",
        metadata=dict(r.metadata),
    )


# The simulator's card fee, deterministic so `make run` books the same fees every time:
# 2.9 % + 30 minor units per charge (Stripe's US standard price); refunds cost nothing.
SANDBOX_FEE_BASIS_POINTS = 290
SANDBOX_FEE_FIXED = 30


def sandbox_card_fee(amount: int) -> int:
    return Money(amount, "USD").scale(SANDBOX_FEE_BASIS_POINTS, 10_000).amount + SANDBOX_FEE_FIXED


def _charge_balance_transaction(pi: SandboxPaymentIntent) -> GatewayBalanceTransaction:
    fee = sandbox_card_fee(pi.amount)
    return GatewayBalanceTransaction(
        id=f"txn_sbx_{pi.pk}",
        type="charge",
        source=pi.latest_charge,
        amount=pi.amount,
        fee=fee,
        net=pi.amount - fee,
        currency=pi.currency,
        payment_intent_id=pi.pk,
        created=pi.created,
    )


def _refund_balance_transaction(r: SandboxRefund) -> GatewayBalanceTransaction:
    return GatewayBalanceTransaction(
        id=f"txn_sbx_{r.pk}",
        type="refund",
        source=r.pk,
        amount=-r.amount,
        fee=0,
        net=-r.amount,
        currency=r.currency,
        payment_intent_id=r.payment_intent_id,
        created=r.created,
    )


def _get(id: str) -> SandboxPaymentIntent:
    try:
        return SandboxPaymentIntent.objects.get(pk=id)
    except SandboxPaymentIntent.DoesNotExist:
        raise GatewayError(f"No such payment_intent: '{id}'", code="resource_missing") from None


class SandboxGateway:
    name = "sandbox"

    def create_payment_intent(
        self,
        *,
        amount: Money,
        metadata: dict[str, str],
        idempotency_key: str,
        customer: str = "",
        save_card: bool = False,
        off_session_payment_method: str = "",
    ) -> GatewayIntent:
        # Like Stripe: the same idempotency key returns the intent created the first time.
        existing = SandboxPaymentIntent.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _intent(existing)
        pi_id = sandbox.new_id("pi")
        try:
            with transaction.atomic():
                pi = SandboxPaymentIntent.objects.create(
                    id=pi_id,
                    idempotency_key=idempotency_key,
                    amount=amount.amount,
                    currency=amount.currency,
                    client_secret=f"{pi_id}_secret_{secrets.token_hex(12)}",
                    metadata=metadata_str(metadata),
                    created=int(time.time()),
                    customer=customer,
                    payment_method=off_session_payment_method,
                    setup_future_usage="off_session" if save_card else "",
                )
        except IntegrityError:
            pi = SandboxPaymentIntent.objects.get(idempotency_key=idempotency_key)
        if off_session_payment_method:
            return self._confirm_off_session(pi)
        return _intent(pi)

    @staticmethod
    def _confirm_off_session(pi: SandboxPaymentIntent) -> GatewayIntent:
        """Charge a saved card without the customer, as Stripe's test cards behave."""
        card = pi.payment_method
        if card in (AUTHENTICATION_REQUIRED_CARD, DECLINED_CARD):
            code = (
                "authentication_required"
                if card == AUTHENTICATION_REQUIRED_CARD
                else "card_declined"
            )
            message = (
                "Your card was declined. This transaction requires authentication."
                if code == "authentication_required"
                else "Your card was declined."
            )
            SandboxPaymentIntent.objects.filter(pk=pi.pk).update(
                last_payment_error={"code": code, "message": message}
            )
            raise GatewayError(message, code=code, payment_intent_id=pi.pk)
        sandbox.sandbox_intent_succeed(payment_intent_id=pi.pk)
        pi.refresh_from_db()
        return _intent(pi)

    def create_customer(self, *, email: str, idempotency_key: str) -> str:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:14]
        return f"cus_sbx{digest}"

    def retrieve_payment_intent(self, id: str) -> GatewayIntent:
        return _intent(_get(id))

    def cancel_payment_intent(self, id: str, idempotency_key: str) -> GatewayIntent:
        with transaction.atomic():
            pi = sandbox_payment_intent_qs_select_for_update().filter(pk=id).first()
            if pi is None:
                raise GatewayError(f"No such payment_intent: '{id}'", code="resource_missing")
            if pi.status == "canceled":
                return _intent(pi)
            if pi.status in ("succeeded", "processing"):
                raise GatewayError(
                    f"You cannot cancel this PaymentIntent because it has a status of {pi.status}.",
                    code="payment_intent_unexpected_state",
                    state_conflict=True,
                )
            pi.status = "canceled"
            pi.save(update_fields=["status"])
            sandbox.event_emit_on_commit(
                type="payment_intent.canceled", obj=sandbox.intent_json(pi)
            )
            return _intent(pi)

    def refund(
        self,
        *,
        payment_intent_id: str,
        amount: Money | None,
        idempotency_key: str,
        reason: str,
        metadata: dict[str, str] | None = None,
    ) -> GatewayRefund:
        existing = SandboxRefund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _refund(existing)
        with transaction.atomic():
            pi = sandbox_payment_intent_qs_select_for_update().filter(pk=payment_intent_id)
            intent = pi.first()
            if intent is None:
                raise GatewayError(
                    f"No such payment_intent: '{payment_intent_id}'", code="resource_missing"
                )
            if intent.status != "succeeded":
                raise GatewayError(
                    "This PaymentIntent does not have a successful charge to refund.",
                    code="charge_not_refundable",
                    state_conflict=True,
                )
            refunded = sum(r.amount for r in intent.refunds.all())
            value = intent.amount - refunded if amount is None else amount.amount
            if refunded >= intent.amount:
                raise GatewayError(
                    f"Charge {intent.latest_charge} has already been refunded.",
                    code="charge_already_refunded",
                    state_conflict=True,
                )
            if value <= 0 or value > intent.amount - refunded:
                raise GatewayError(
                    "Refund amount is greater than unrefunded amount on charge.",
                    code="amount_too_large",
                )
            refund = SandboxRefund.objects.create(
                id=sandbox.new_id("re"),
                idempotency_key=idempotency_key,
                payment_intent=intent,
                amount=value,
                currency=intent.currency,
                reason=reason[:64],
                metadata=metadata_str({**(metadata or {}), "reason": reason}),
                created=int(time.time()),
            )
            sandbox.event_emit_on_commit(type="charge.refunded", obj=sandbox.charge_json(intent))
            return _refund(refund)

    def list_refunds(self, *, payment_intent_id: str) -> list[GatewayRefund]:
        return [
            _refund(r) for r in SandboxRefund.objects.filter(payment_intent_id=payment_intent_id)
        ]

    def list_payment_intents(
        self, *, created_gte: int | None = None, limit: int = 100
    ) -> list[GatewayIntent]:
        qs = SandboxPaymentIntent.objects.order_by("-created", "-id")
        if created_gte is not None:
            qs = qs.filter(created__gte=created_gte)
        return [_intent(pi) for pi in qs[:limit]]

    def list_balance_transactions(
        self,
        *,
        source: str = "",
        payout: str = "",
        created_gte: int | None = None,
        limit: int = 100,
    ) -> list[GatewayBalanceTransaction]:
        """The simulator's charges and refunds as balance transactions; it makes no
        payouts, so nothing belongs to one."""
        if payout:
            return []
        intents = SandboxPaymentIntent.objects.filter(status="succeeded").exclude(latest_charge="")
        refunds = SandboxRefund.objects.all()
        if source:
            intents = intents.filter(latest_charge=source)
            refunds = refunds.filter(pk=source)
        if created_gte is not None:
            intents = intents.filter(created__gte=created_gte)
            refunds = refunds.filter(created__gte=created_gte)
        out = [_charge_balance_transaction(pi) for pi in intents[:limit]]
        out += [_refund_balance_transaction(r) for r in refunds[:limit]]
        out.sort(key=lambda bt: (bt.created, bt.id), reverse=True)
        return out[:limit]

    def list_payouts(
        self, *, created_gte: int | None = None, limit: int = 100
    ) -> list[GatewayPayout]:
        return []
