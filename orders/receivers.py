"""The orders app's reactions to payments (connected in `OrdersConfig.ready`).

Each runs inside the transaction that changed the payment, so the payment and its order
move together or not at all."""

from __future__ import annotations

from typing import Any

from orders import services
from payments import signals


def _succeeded(*, order_id: int, **_: Any) -> None:
    services.order_payment_succeeded(order_id=order_id)


def _failed(*, order_id: int, reason: str, **_: Any) -> None:
    services.order_payment_failed(order_id=order_id, reason=reason)


def _canceled(*, order_id: int, **_: Any) -> None:
    services.order_payment_canceled(order_id=order_id)


def _refunded(
    *,
    order_id: int,
    fully_refunded: bool,
    actor: Any = None,
    reason: str = "",
    amount: Any = None,
    **_: Any,
) -> None:
    services.order_refund_recorded(
        order_id=order_id,
        fully_refunded=fully_refunded,
        actor=actor,
        reason=reason,
        amount=amount,
    )


def _disputed(*, order_id: int, reason: str, **_: Any) -> None:
    services.order_dispute_opened(order_id=order_id, reason=reason)


def receivers_connect() -> None:
    uid = "orders.receivers"
    signals.order_payment_succeeded.connect(_succeeded, dispatch_uid=f"{uid}.succeeded")
    signals.order_payment_failed.connect(_failed, dispatch_uid=f"{uid}.failed")
    signals.order_payment_canceled.connect(_canceled, dispatch_uid=f"{uid}.canceled")
    signals.order_payment_refunded.connect(_refunded, dispatch_uid=f"{uid}.refunded")
    signals.order_payment_disputed.connect(_disputed, dispatch_uid=f"{uid}.disputed")
