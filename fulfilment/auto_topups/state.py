"""Where an auto top-up run may go (`AUTO_TOPUP_RUN_STATES`). A run is created `pending`
(its top-up is queued) or `limit_reached` (the rule's monthly limit was used up); the
one worker that moves it out of `pending` (a conditional update through
`ttelgo.state.transition_rows`) tells the vendor or the customer what became of it."""

from __future__ import annotations

from fulfilment.auto_topups.models import AutoTopupRun
from ttelgo.state import StateTable

R = AutoTopupRun.Status

AUTO_TOPUP_RUN_STATES = StateTable.of(
    "Auto top-up",
    {
        R.PENDING: {R.APPLIED, R.ACTION_REQUIRED, R.FAILED},
        # The customer's bank asked them to confirm the payment: the top-up order waits
        # for it on its own (the run records no more).
        R.ACTION_REQUIRED: set(),
        R.APPLIED: set(),
        R.FAILED: set(),
        R.LIMIT_REACHED: set(),
    },
)
