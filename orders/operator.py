"""What operators do to orders from the console: review decisions, cancels and re-drives
(refunds, which take eSIMs back, are fulfilment's: fulfilment/operator.py). Each checks
the operator's role permission, calls the orders/payments service
that owns the change, and writes an audit row (who, when, before/after, why)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from orders.lock_objects import order_qs_select_for_update
from orders.models import Order
from orders.services import (
    order_cancel,
    order_provisioning_enqueue,
    order_release_to_provisioning,
    order_review_approve,
    order_review_reject,
)
from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.permissions import operator_require

S = Order.Status


def _order_state(order: Order) -> dict[str, Any]:
    return {"status": order.status, "review_reasons": order.review_reasons}


def _order_change_audited(
    *,
    order_id: int,
    actor: Any,
    action: str,
    reason: str,
    change: Callable[[], Order],
    after_extra: Callable[[Order], dict[str, Any]] | None = None,
) -> Order:
    """Run one order service and write its audit row (state before and after), in one
    transaction."""
    with transaction.atomic():
        before = _order_state(Order.objects.get(pk=order_id))
        order = change()
        audit_record(
            actor=actor,
            action=action,
            target=order,
            before=before,
            after={**_order_state(order), **(after_extra(order) if after_extra else {})},
            reason=reason,
        )
    return order


def operator_review_approve(*, order_id: int, actor: Any, note: str = "") -> Order:
    """Clear a held order: it goes on to provisioning."""
    operator_require(actor, "ttelgo.review_orders")
    return _order_change_audited(
        order_id=order_id,
        actor=actor,
        action="order.review_approve",
        reason=note,
        change=lambda: order_review_approve(order_id=order_id, actor=actor, note=note),
    )


def operator_review_reject(*, order_id: int, actor: Any, note: str) -> Order:
    """Reject a held order: the customer is refunded, a vendor's hold is voided. Rejecting
    twice fails (`invalid_state`) before any money moves."""
    operator_require(actor, "ttelgo.review_orders")
    if not note.strip():
        raise DomainError(
            "validation_error", "Say why the order is rejected.", details={"note": ["Required."]}
        )
    return _order_change_audited(
        order_id=order_id,
        actor=actor,
        action="order.review_reject",
        reason=note,
        change=lambda: order_review_reject(order_id=order_id, actor=actor, note=note),
        after_extra=lambda order: {"money": "refunded" if order.channel == "b2c" else "voided"},
    )


def operator_order_cancel(*, order_id: int, actor: Any, reason: str = "") -> Order:
    """Cancel an order still awaiting payment (and its PaymentIntent)."""
    operator_require(actor, "ttelgo.cancel_orders")

    def audit(before: Order, after: Order) -> None:
        audit_record(
            actor=actor,
            action="order.cancel",
            target=after,
            before=_order_state(before),
            after=_order_state(after),
            reason=reason,
        )

    # Not in one transaction with the gateway call: order_cancel commits the order (and
    # this audit row) before it asks the gateway to cancel the PaymentIntent.
    return order_cancel(order_id=order_id, actor=actor, audit=audit)


def operator_order_redrive(*, order_id: int, actor: Any, reason: str = "") -> Order:
    """Push a stuck order on: `paid` goes to provisioning, `provisioning` is queued again
    (the provisioning task asks the provider before buying, so this never buys twice)."""
    operator_require(actor, "ttelgo.redrive_orders")
    with transaction.atomic():
        order = order_qs_select_for_update().get(pk=order_id)
        before = _order_state(order)
        if order.status == S.PAID:
            order = order_release_to_provisioning(
                order_id=order_id, actor=actor, reason=reason or "re-driven by an operator"
            )
        elif order.status == S.PROVISIONING:
            order_provisioning_enqueue(order_id=order_id, livemode=order.livemode)
        else:  # ORDER_STATES.may("redrive", ...) is exactly these two
            raise DomainError(
                "invalid_state",
                f"Only paid or provisioning orders can be re-driven; this one is {order.status}.",
                details={"status": order.status},
            )
        audit_record(
            actor=actor,
            action="order.redrive",
            target=order,
            before=before,
            after=_order_state(order),
            reason=reason,
        )
    return order
