"""Where a support ticket may go (`TICKET_STATES`): every move is a conditional update
through `ttelgo.state.transition_rows`, so a reply and an answer crossing each other
each see what the other did."""

from __future__ import annotations

from typing import Any

from support.models import Ticket
from ttelgo.state import StateTable, transition_rows

T = Ticket.Status

TICKET_STATES = StateTable.of(
    "Ticket",
    {
        # Answered by an operator (and closed, if they say so).
        T.OPEN: {T.ANSWERED, T.CLOSED},
        # The requester writes again; the answer's email failed (back in the queue); or
        # an operator answers again and closes it.
        T.ANSWERED: {T.OPEN, T.CLOSED},
        # An operator answers a closed ticket again; the closing answer's email failed.
        T.CLOSED: {T.ANSWERED, T.OPEN},
    },
    actions={
        # The requester may write on a ticket that is not closed.
        "reply": {T.OPEN, T.ANSWERED},
        # An operator may answer (or close) any ticket.
        "answer": {T.OPEN, T.ANSWERED, T.CLOSED},
    },
)


def ticket_move(ticket_id: int, *, to: str, expected: str | frozenset[str], **fields: Any) -> int:
    """Move the ticket to `to` if its status is one of `expected` (one already in `to`
    stays, its other `fields` written); 1 if it matched, 0 if it had moved elsewhere."""
    return transition_rows(
        Ticket.objects.filter(pk=ticket_id), table=TICKET_STATES, to=to, expected=expected, **fields
    )
