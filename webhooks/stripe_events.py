"""What each Stripe event type means to us. Handlers take the stored event payload and call
payments services; they are idempotent and re-read state through the gateway where the
order of events matters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payments.services import (
    payment_card_record,
    payment_dispute_funds_moved,
    payment_dispute_opened,
    payment_intent_sync,
    payment_refunds_sync,
)
from ttelgo.money import Money

Handler = Callable[[dict[str, Any]], bool]


def _object(event: dict[str, Any]) -> dict[str, Any]:
    return dict(event.get("data", {}).get("object") or {})


def _intent_id(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value.get("id") or "") or None
    return str(value) if value else None


def _payment_intent_changed(event: dict[str, Any]) -> bool:

    pi_id = _intent_id(_object(event).get("id"))
    return pi_id is not None and payment_intent_sync(payment_intent_id=pi_id) is not None


def _charge_card(event: dict[str, Any]) -> bool:
    """charge.succeeded / updated / captured: the card that paid, for fraud rules."""

    charge = _object(event)
    pi_id = _intent_id(charge.get("payment_intent"))
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    fingerprint, country = str(card.get("fingerprint") or ""), str(card.get("country") or "")
    if pi_id is None or not (fingerprint or country):
        return False
    return payment_card_record(payment_intent_id=pi_id, fingerprint=fingerprint, country=country)


def _charge_refunded(event: dict[str, Any]) -> bool:

    pi_id = _intent_id(_object(event).get("payment_intent"))
    return pi_id is not None and payment_refunds_sync(payment_intent_id=pi_id) is not None


def _dispute_created(event: dict[str, Any]) -> bool:

    dispute = _object(event)
    pi_id = _intent_id(dispute.get("payment_intent"))
    reason = str(dispute.get("reason") or "unspecified")
    return (
        pi_id is not None
        and payment_dispute_opened(payment_intent_id=pi_id, reason=reason) is not None
    )


def _dispute_funds(withdrawn: bool) -> Handler:
    def handle(event: dict[str, Any]) -> bool:

        dispute = _object(event)
        pi_id = _intent_id(dispute.get("payment_intent"))
        amount, currency = dispute.get("amount"), str(dispute.get("currency") or "").upper()
        if pi_id is None or not dispute.get("id") or not isinstance(amount, int) or amount <= 0:
            return False
        return (
            payment_dispute_funds_moved(
                payment_intent_id=pi_id,
                dispute_id=str(dispute["id"]),
                amount=Money(amount, currency),
                withdrawn=withdrawn,
            )
            is not None
        )

    return handle


# Every payment_intent.* event resolves to the same thing: sync with the intent as it is now.
HANDLERS: dict[str, Handler] = {
    "payment_intent.created": _payment_intent_changed,
    "payment_intent.processing": _payment_intent_changed,
    "payment_intent.requires_action": _payment_intent_changed,
    "payment_intent.succeeded": _payment_intent_changed,
    "payment_intent.payment_failed": _payment_intent_changed,
    "payment_intent.canceled": _payment_intent_changed,
    "charge.succeeded": _charge_card,
    "charge.updated": _charge_card,
    "charge.captured": _charge_card,
    "charge.refunded": _charge_refunded,
    "charge.refund.updated": _charge_refunded,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.funds_withdrawn": _dispute_funds(withdrawn=True),
    "charge.dispute.funds_reinstated": _dispute_funds(withdrawn=False),
}


def stripe_event_handle(event: dict[str, Any]) -> bool:
    """Apply one Stripe event. False when it is not for us (unknown type or object)."""
    handler = HANDLERS.get(str(event.get("type", "")))
    return handler(event) if handler is not None else False
