"""The payment gateway interface, in our own terms (minor units, upper-case currency)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ttelgo.money import Money


@dataclass(frozen=True)
class GatewayIntent:
    id: str
    client_secret: str
    status: str  # Stripe's PaymentIntent status strings
    amount: int
    currency: str
    metadata: dict[str, str] = field(default_factory=dict)
    failure_message: str = ""
    latest_charge: str | None = None
    created: int = 0
    payment_method: str = ""

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


@dataclass(frozen=True)
class GatewayRefund:
    id: str
    payment_intent_id: str
    amount: int
    currency: str
    status: str  # pending | succeeded | failed | canceled | requires_action
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GatewayBalanceTransaction:
    """One movement of our balance at the gateway (Stripe's balance transaction): a
    charge, a refund, a dispute's withdrawal or reinstatement, a payout. `amount` is the
    gross movement (negative when money leaves), `fee` what the gateway kept for it
    (negative when it gave a fee back), `net = amount - fee`. `payment_intent_id`: the
    PaymentIntent the source belongs to ("" when none, e.g. a payout)."""

    id: str
    type: str  # charge | payment | refund | payment_refund | adjustment | payout | ...
    source: str  # ch_… / re_… / dp_… / po_…
    amount: int
    fee: int
    net: int
    currency: str
    payment_intent_id: str = ""
    payout: str = ""
    created: int = 0

    @property
    def fee_money(self) -> Money:
        return Money(self.fee, self.currency)


@dataclass(frozen=True)
class GatewayPayout:
    """Money the gateway sends from our balance to the bank."""

    id: str
    amount: int
    currency: str
    status: str  # pending | in_transit | paid | failed | canceled
    arrival_date: int = 0
    created: int = 0


class GatewayError(Exception):
    """The gateway refused or could not be reached. `state_conflict` means the object is
    in a state that does not allow the operation (e.g. cancelling a succeeded intent)."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        state_conflict: bool = False,
        payment_intent_id: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.state_conflict = state_conflict
        # The intent an off-session charge left behind (e.g. `authentication_required`:
        # the customer confirms it on-session).
        self.payment_intent_id = payment_intent_id


class PaymentGateway(Protocol):
    name: str

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
        """`save_card`: keep the card for off-session use (setup_future_usage) on
        `customer`. `off_session_payment_method`: charge that saved card now, without the
        customer (confirm off-session); a bank asking for authentication raises
        GatewayError(code="authentication_required", payment_intent_id=...)."""
        ...

    def create_customer(self, *, email: str, idempotency_key: str) -> str: ...

    def retrieve_payment_intent(self, id: str) -> GatewayIntent: ...

    def cancel_payment_intent(self, id: str, idempotency_key: str) -> GatewayIntent: ...

    def refund(
        self,
        *,
        payment_intent_id: str,
        amount: Money | None,
        idempotency_key: str,
        reason: str,
        metadata: dict[str, str] | None = None,
    ) -> GatewayRefund: ...

    def list_refunds(self, *, payment_intent_id: str) -> list[GatewayRefund]: ...

    def list_payment_intents(
        self, *, created_gte: int | None = None, limit: int = 100
    ) -> list[GatewayIntent]: ...

    def list_balance_transactions(
        self,
        *,
        source: str = "",
        payout: str = "",
        created_gte: int | None = None,
        limit: int = 100,
    ) -> list[GatewayBalanceTransaction]:
        """Balance transactions of one source (a charge, refund or dispute id), of one
        payout, or created since `created_gte`; newest first."""
        ...

    def list_payouts(
        self, *, created_gte: int | None = None, limit: int = 100
    ) -> list[GatewayPayout]: ...


# Stripe's `reason` on a refund accepts only these; anything else is kept in metadata.
STRIPE_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


def stripe_refund_reason(reason: str) -> str | None:
    return reason if reason in STRIPE_REFUND_REASONS else None


def metadata_str(metadata: dict[str, Any]) -> dict[str, str]:
    """Stripe metadata values are strings (max 500 chars)."""
    return {str(k)[:40]: str(v)[:500] for k, v in metadata.items()}
