"""The order state machine: the one table of allowed transitions and the one function
that performs them (compare-and-set + an OrderEvent row)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderEvent
from ttelgo.errors import DomainError

S = Order.Status

ALLOWED: dict[str, frozenset[str]] = {
    # refunded: a refund reached us before the payment's success did (it never provisions)
    S.AWAITING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.FAILED, S.REFUNDED}),
    S.PAID: frozenset({S.IN_REVIEW, S.PROVISIONING, S.REFUNDED}),
    S.IN_REVIEW: frozenset({S.PROVISIONING, S.REFUNDED, S.CANCELLED}),
    # refunded: the payment was refunded before an attempt bought anything
    S.PROVISIONING: frozenset({S.COMPLETED, S.FAILED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.REFUNDED}),
    S.FAILED: frozenset(),
    S.REFUNDED: frozenset(),
    S.CANCELLED: frozenset(),
}
# Where a new order may start: B2C waits for payment; B2B has its funds reserved already.
INITIAL: dict[str, frozenset[str]] = {
    Order.Channel.B2C: frozenset({S.AWAITING_PAYMENT}),
    Order.Channel.B2B: frozenset({S.PROVISIONING, S.IN_REVIEW}),
}
TERMINAL = frozenset(s for s, targets in ALLOWED.items() if not targets)


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED.get(from_status, frozenset())


def order_event_record(
    *, order: Order, from_status: str, to_status: str, actor: Any = None, reason: str = ""
) -> OrderEvent:
    label = "system"
    if actor is not None and getattr(actor, "is_authenticated", False):
        label = str(actor)
    elif isinstance(actor, str):
        label, actor = actor, None
    return OrderEvent.objects.create(
        order=order,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        actor_label=label[:100],
        reason=reason,
    )


def order_transition(
    *,
    order_id: int,
    to: str,
    expected: str | frozenset[str] | None = None,
    actor: Any = None,
    reason: str = "",
    **fields: Any,
) -> Order:
    """Move an order to `to` if the table allows it from its current status.

    `expected` narrows the statuses it may come from (callers that react to an event say
    which state they expect). Compare-and-set: the UPDATE matches on the status read, so
    two concurrent transitions cannot both win; the loser gets `invalid_state`.
    Extra `fields` are written in the same UPDATE. `actor` is a user, a label such as
    "vendor:3", or None for the system.
    """
    with transaction.atomic():
        order = Order.objects.get(pk=order_id)
        current = order.status
        allowed_from = (
            {expected} if isinstance(expected, str) else set(expected) if expected else None
        )
        if (allowed_from is not None and current not in allowed_from) or not can_transition(
            current, to
        ):
            raise DomainError(
                "invalid_state",
                f"Order {order_id} cannot go from {current} to {to}.",
                details={"status": current, "requested": to},
            )
        now = timezone.now()
        if to == S.COMPLETED:
            fields.setdefault("completed_at", now)
        changed = Order.objects.filter(pk=order_id, status=current).update(
            status=to, updated_at=now, **fields
        )
        if changed != 1:
            raise DomainError(
                "invalid_state",
                f"Order {order_id} changed while moving to {to}; try again.",
                details={"status": current, "requested": to},
            )
        order_event_record(
            order=order, from_status=current, to_status=to, actor=actor, reason=reason
        )
        order.refresh_from_db()
        return order
