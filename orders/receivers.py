"""The orders app's reactions to what happened to an order's card payment.

Payments record an outbox message for `orders.tasks.order_payment_react` in the
transaction that changed the payment (payments import nothing of orders); the task calls
`order_payment_react` once that has committed. Delivery is at least once, so every
reaction is idempotent: it locks the order and moves it only from the status the event
expects (a duplicate or late event leaves it as it is)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from orders import services
from ttelgo.money import Money


def _actor(details: dict[str, Any]) -> Any:
    actor_id = details.get("actor_id")
    if actor_id:
        return get_user_model().objects.filter(pk=actor_id).first()
    return details.get("actor") or None


def order_payment_react(*, order_id: int, what: str, details: dict[str, Any]) -> None:
    """Move the order for `what` happened to its payment ("succeeded", "failed",
    "canceled", "refunded", "disputed"; the names in `payments.services`)."""
    if what == "succeeded":
        services.order_payment_succeeded(order_id=order_id)
    elif what == "failed":
        services.order_payment_failed(order_id=order_id, reason=details["reason"])
    elif what == "canceled":
        services.order_payment_canceled(order_id=order_id)
    elif what == "refunded":
        amount = details.get("amount")
        services.order_refund_recorded(
            order_id=order_id,
            fully_refunded=bool(details["fully_refunded"]),
            actor=_actor(details),
            reason=details.get("reason", ""),
            amount=Money(int(amount), details["currency"]) if amount is not None else None,
        )
    elif what == "disputed":
        services.order_dispute_opened(order_id=order_id, reason=details["reason"])
    else:
        raise ValueError(f"unknown payment event {what!r}")
