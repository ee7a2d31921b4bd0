"""The order state machine: the one table of allowed transitions and operator actions
(`ORDER_STATES`), and the one function that performs a move (`ttelgo.state.transition`,
compare-and-set, plus an OrderEvent row)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from orders.models import Order, OrderEvent
from ttelgo.metrics import (
    ORDER_PROVISIONING_SECONDS,
    ORDERS_COMPLETED,
    ORDERS_FAILED,
    count_on_commit,
)
from ttelgo.state import StateTable, transition

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
ORDER_STATES = StateTable.of(
    "Order",
    ALLOWED,
    actions={
        "cancel": {S.AWAITING_PAYMENT},  # the buyer or an operator, before payment
        "review": {S.IN_REVIEW},  # approve or reject a held order
        "redrive": {S.PAID, S.PROVISIONING},  # provisioning again, find-before-buy
        # Where a payment may still hold something to refund (a failed or cancelled
        # order's payment is refunded as it fails; a partial refund keeps it completed).
        "refund": {S.PAID, S.IN_REVIEW, S.COMPLETED, S.FAILED, S.CANCELLED},
    },
)
TERMINAL = ORDER_STATES.terminal


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
    which state they expect). Compare-and-set (`ttelgo.state.transition`): two concurrent
    transitions cannot both win; the loser gets `invalid_state`. Extra `fields` are
    written in the same UPDATE. `actor` is a user, a label such as "vendor:3", or None for
    the system.
    """
    if to == S.COMPLETED:
        fields.setdefault("completed_at", timezone.now())
    with transaction.atomic():
        order, current = transition(
            Order, pk=order_id, table=ORDER_STATES, to=to, expected=expected, **fields
        )
        order_event_record(
            order=order, from_status=current, to_status=to, actor=actor, reason=reason
        )
        if to == S.COMPLETED:
            _completion_count(order)
        elif to == S.FAILED:
            count_on_commit(ORDERS_FAILED.labels(channel=order.channel))
        return order


def _completion_count(order: Order) -> None:
    seconds = (order.completed_at - order.created_at).total_seconds() if order.completed_at else 0
    channel = order.channel

    def record() -> None:
        ORDERS_COMPLETED.labels(channel=channel).inc()
        ORDER_PROVISIONING_SECONDS.labels(channel=channel).observe(max(seconds, 0))

    transaction.on_commit(record)
