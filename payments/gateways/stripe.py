"""StripeGateway: PaymentIntents and refunds through stripe-python with a pinned API version.

Every write carries an `Idempotency-Key` derived from our own object, so a retry (ours or
the library's network retries) can never create a second intent or refund.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import stripe
from django.conf import settings

from payments.gateways.base import (
    GatewayBalanceTransaction,
    GatewayError,
    GatewayIntent,
    GatewayPayout,
    GatewayRefund,
    metadata_str,
    stripe_refund_reason,
)
from ttelgo.money import Money

# Pinned: event and object shapes we parse are those of this version.
STRIPE_API_VERSION = "2026-10-28.endive"
_STATE_CONFLICT_CODES = frozenset(
    {"payment_intent_unexpected_state", "charge_already_refunded", "charge_disputed"}
)


def _plain(obj: Any) -> dict[str, Any]:
    """StripeObjects are not dicts (stripe-python 13+); read plain data."""
    return dict(obj.to_dict()) if hasattr(obj, "to_dict") else dict(obj)


def intent_from_stripe(raw: Any) -> GatewayIntent:
    obj = _plain(raw)
    error = obj.get("last_payment_error") or {}
    return GatewayIntent(
        id=obj["id"],
        client_secret=obj.get("client_secret") or "",
        status=obj["status"],
        amount=int(obj["amount"]),
        currency=str(obj["currency"]).upper(),
        metadata={k: str(v) for k, v in (obj.get("metadata") or {}).items()},
        failure_message=str(error.get("message") or error.get("code") or ""),
        latest_charge=_id_of(obj.get("latest_charge")),
        created=int(obj.get("created") or 0),
        payment_method=_id_of(obj.get("payment_method")) or "",
    )


def refund_from_stripe(raw: Any) -> GatewayRefund:
    obj = _plain(raw)
    return GatewayRefund(
        id=obj["id"],
        payment_intent_id=_id_of(obj.get("payment_intent")) or "",
        amount=int(obj["amount"]),
        currency=str(obj["currency"]).upper(),
        status=obj.get("status") or "pending",
        metadata={k: str(v) for k, v in (obj.get("metadata") or {}).items()},
    )


def balance_transaction_from_stripe(raw: Any) -> GatewayBalanceTransaction:
    """A balance transaction listed with `expand[]=data.source`: the source object names
    its PaymentIntent (a charge's, a refund's, a dispute's `payment_intent`)."""
    obj = _plain(raw)
    source = obj.get("source")
    intent = _id_of(source.get("payment_intent")) if isinstance(source, dict) else None
    return GatewayBalanceTransaction(
        id=obj["id"],
        type=str(obj.get("type") or ""),
        source=_id_of(source) or "",
        amount=int(obj["amount"]),
        fee=int(obj.get("fee") or 0),
        net=int(obj["net"]),
        currency=str(obj["currency"]).upper(),
        payment_intent_id=intent or "",
        created=int(obj.get("created") or 0),
    )


def payout_from_stripe(raw: Any) -> GatewayPayout:
    obj = _plain(raw)
    return GatewayPayout(
        id=obj["id"],
        amount=int(obj["amount"]),
        currency=str(obj["currency"]).upper(),
        status=str(obj.get("status") or ""),
        arrival_date=int(obj.get("arrival_date") or 0),
        created=int(obj.get("created") or 0),
    )


def _id_of(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(value["id"])


class StripeGateway:
    name = "stripe"

    def __init__(self, *, api_key: str | None = None, api_base: str | None = None) -> None:
        key = api_key if api_key is not None else settings.STRIPE_SECRET_KEY
        if not key:
            raise GatewayError("STRIPE_SECRET_KEY is not configured", code="not_configured")
        self.client = stripe.StripeClient(
            key,
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": api_base or settings.STRIPE_API_BASE},
            max_network_retries=2,
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except stripe.StripeError as exc:
            code = str(getattr(exc, "code", "") or "")
            message = str(getattr(exc, "user_message", None) or exc)
            error = getattr(exc, "error", None)
            intent = getattr(error, "payment_intent", None) if error is not None else None
            raise GatewayError(
                message,
                code=code,
                state_conflict=code in _STATE_CONFLICT_CODES,
                payment_intent_id=_id_of(intent) or "",
            ) from exc

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
        params: dict[str, Any] = {
            "amount": amount.amount,
            "currency": amount.currency.lower(),
            "metadata": metadata_str(metadata),
        }
        if customer:
            params["customer"] = customer
        if off_session_payment_method:
            params.update(
                payment_method=off_session_payment_method,
                off_session=True,
                confirm=True,
                payment_method_types=["card"],
            )
        else:
            params["automatic_payment_methods"] = {"enabled": True}
            if save_card:
                params["setup_future_usage"] = "off_session"
        obj = self._call(
            self.client.v1.payment_intents.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return intent_from_stripe(obj)

    def retrieve_payment_intent(self, id: str) -> GatewayIntent:
        return intent_from_stripe(self._call(self.client.v1.payment_intents.retrieve, id))

    def create_customer(self, *, email: str, idempotency_key: str) -> str:
        obj = self._call(
            self.client.v1.customers.create,
            params={"email": email},
            options={"idempotency_key": idempotency_key},
        )
        return str(_plain(obj)["id"])

    def cancel_payment_intent(self, id: str, idempotency_key: str) -> GatewayIntent:
        obj = self._call(
            self.client.v1.payment_intents.cancel,
            id,
            options={"idempotency_key": idempotency_key},
        )
        return intent_from_stripe(obj)

    def refund(
        self,
        *,
        payment_intent_id: str,
        amount: Money | None,
        idempotency_key: str,
        reason: str,
        metadata: dict[str, str] | None = None,
    ) -> GatewayRefund:
        params: dict[str, Any] = {
            "payment_intent": payment_intent_id,
            "metadata": metadata_str({**(metadata or {}), "reason": reason}),
        }
        if amount is not None:
            params["amount"] = amount.amount
        stripe_reason = stripe_refund_reason(reason)
        if stripe_reason:
            params["reason"] = stripe_reason
        obj = self._call(
            self.client.v1.refunds.create,
            params=params,
            options={"idempotency_key": idempotency_key},
        )
        return refund_from_stripe(obj)

    def list_refunds(self, *, payment_intent_id: str) -> list[GatewayRefund]:
        page = self._call(
            self.client.v1.refunds.list, params={"payment_intent": payment_intent_id, "limit": 100}
        )
        return [refund_from_stripe(obj) for obj in page.auto_paging_iter()]

    def list_payment_intents(
        self, *, created_gte: int | None = None, limit: int = 100
    ) -> list[GatewayIntent]:
        params: dict[str, Any] = {"limit": min(limit, 100)}
        if created_gte is not None:
            params["created"] = {"gte": created_gte}
        page = self._call(self.client.v1.payment_intents.list, params=params)
        out: list[GatewayIntent] = []
        for obj in page.auto_paging_iter():
            out.append(intent_from_stripe(obj))
            if len(out) >= limit:
                break
        return out

    def list_balance_transactions(
        self,
        *,
        source: str = "",
        payout: str = "",
        created_gte: int | None = None,
        limit: int = 100,
    ) -> list[GatewayBalanceTransaction]:
        params: dict[str, Any] = {"limit": min(limit, 100), "expand": ["data.source"]}
        if source:
            params["source"] = source
        if payout:
            params["payout"] = payout
        if created_gte is not None:
            params["created"] = {"gte": created_gte}
        page = self._call(self.client.v1.balance_transactions.list, params=params)
        out: list[GatewayBalanceTransaction] = []
        for obj in page.auto_paging_iter():
            out.append(balance_transaction_from_stripe(obj))
            if len(out) >= limit:
                break
        # Stripe does not repeat the payout on each of its transactions: we asked by it.
        return [replace(bt, payout=payout) for bt in out] if payout else out

    def list_payouts(
        self, *, created_gte: int | None = None, limit: int = 100
    ) -> list[GatewayPayout]:
        params: dict[str, Any] = {"limit": min(limit, 100)}
        if created_gte is not None:
            params["created"] = {"gte": created_gte}
        page = self._call(self.client.v1.payouts.list, params=params)
        out: list[GatewayPayout] = []
        for obj in page.auto_paging_iter():
            out.append(payout_from_stripe(obj))
            if len(out) >= limit:
                break
        return out
