"""Where a webhook delivery may go (`DELIVERY_STATES`) and where a received provider or
gateway event may go (`INBOUND_STATES`). Every move is a conditional update through
`ttelgo.state.transition_rows`: its row count says which of two concurrent callers moved
the row (healthchecks' `sendalerts`)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from ttelgo.state import StateTable, transition_rows
from webhooks.models import InboundEvent, WebhookDelivery

D = WebhookDelivery.Status
I = InboundEvent.Status  # noqa: E741

DELIVERY_STATES = StateTable.of(
    "Webhook delivery",
    {
        # An attempt got a 2xx; it gave up (out of attempts, 410 Gone, the endpoint
        # disabled or deleted). A failed attempt with retries left stays pending.
        D.PENDING: {D.SUCCEEDED, D.FAILED},
        # Replayed by the vendor or an operator: a fresh schedule.
        D.SUCCEEDED: {D.PENDING},
        # Replayed; or an attempt already under way when its endpoint was deleted got
        # through after all (its outcome is recorded as it was).
        D.FAILED: {D.PENDING, D.SUCCEEDED},
    },
    actions={"replay": {D.PENDING, D.SUCCEEDED, D.FAILED}},
)

INBOUND_STATES = StateTable.of(
    "Inbound event",
    {
        I.RECEIVED: {I.PROCESSED, I.IGNORED, I.FAILED},
        # Run again by the re-drive (a failed run stays failed, one attempt more).
        I.FAILED: {I.PROCESSED, I.IGNORED, I.RECEIVED},
        # An operator reprocesses it (handlers are idempotent).
        I.PROCESSED: {I.RECEIVED},
        I.IGNORED: {I.RECEIVED},
    },
    actions={"reprocess": {I.RECEIVED, I.PROCESSED, I.IGNORED, I.FAILED}},
)


def delivery_move(
    rows: QuerySet[WebhookDelivery], *, to: str, expected: str | frozenset[str], **fields: Any
) -> int:
    """Move the deliveries of `rows` in `expected` to `to`; how many moved."""
    return transition_rows(rows, table=DELIVERY_STATES, to=to, expected=expected, **fields)


def inbound_move(
    rows: QuerySet[InboundEvent], *, to: str, expected: str | frozenset[str], **fields: Any
) -> int:
    """Move the inbound events of `rows` in `expected` to `to`; how many moved."""
    return transition_rows(rows, table=INBOUND_STATES, to=to, expected=expected, **fields)
