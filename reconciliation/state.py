"""Where a reconciliation run may go (`RUN_STATES`) and where one of its findings may go
(`FINDING_STATES`). Every move is a conditional update through
`ttelgo.state.transition_rows`: its row count says which caller moved the row (a run
finished by its worker or swept as stale, a finding fixed by one of two operators)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from reconciliation.models import ReconciliationFinding, ReconciliationRun
from ttelgo.state import StateTable, transition_rows

Run = ReconciliationRun.Status
Finding = ReconciliationFinding.Status

RUN_STATES = StateTable.of(
    "Reconciliation run",
    {
        # Its worker finishes it, or the sweep finds it stopped stamping and fails it.
        Run.RUNNING: {Run.COMPLETED, Run.FAILED},
        Run.COMPLETED: set(),
        Run.FAILED: set(),
    },
)

FINDING_STATES = StateTable.of(
    "Finding",
    {
        # Claimed by the operator who fixes it; reopened if the fix is refused.
        Finding.OPEN: {Finding.RESOLVED},
        Finding.RESOLVED: {Finding.OPEN},
    },
    actions={"fix": {Finding.OPEN}},
)


def run_move(rows: QuerySet[ReconciliationRun], *, to: str, **fields: Any) -> int:
    """Move the running runs of `rows` to `to`; how many moved."""
    return transition_rows(rows, table=RUN_STATES, to=to, expected=Run.RUNNING, **fields)


def finding_move(finding_id: int, *, to: str, expected: str, **fields: Any) -> int:
    """Move the finding to `to` if it is `expected`; 1 if this call moved it."""
    rows = ReconciliationFinding.objects.filter(pk=finding_id)
    return transition_rows(rows, table=FINDING_STATES, to=to, expected=expected, **fields)
