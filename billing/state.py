"""Where a vendor's monthly invoice may go (`INVOICE_STATES`): issued, overdue past its
due date, paid once payments cover its total. Every move is a conditional update
through `ttelgo.state.transition_rows` (under the invoice's row lock where it is paid)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from billing.models import Invoice
from ttelgo.state import StateTable, transition_rows

V = Invoice.Status

INVOICE_STATES = StateTable.of(
    "Invoice",
    {
        V.ISSUED: {V.OVERDUE, V.PAID},
        V.OVERDUE: {V.PAID},
        V.PAID: set(),
    },
)


def invoice_move(rows: QuerySet[Invoice], *, to: str, expected: str, **fields: Any) -> int:
    """Move the invoices of `rows` in `expected` to `to`; how many moved."""
    return transition_rows(rows, table=INVOICE_STATES, to=to, expected=expected, **fields)
