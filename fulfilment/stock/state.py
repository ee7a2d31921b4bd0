"""Where a stock eSIM may go (`STOCK_ESIM_STATES`). Bought `available`; taken by one sale
(`sold`, the row locked by that sale) or given back to the provider before its refund
window closes (`revoking`, then `revoked` with the refund owed, or `written_off` when the
provider refuses the refund). Every move is a conditional update through
`ttelgo.state.transition_rows`."""

from __future__ import annotations

from fulfilment.stock.models import StockBatch, StockEsim
from ttelgo.state import StateTable

K = StockEsim.Status

STOCK_ESIM_STATES = StateTable.of(
    "Stock eSIM",
    {
        K.AVAILABLE: {K.SOLD, K.REVOKING},
        K.SOLD: set(),  # it is the order's eSIM now: the Esim table takes over
        # Given back to the provider: refunded to our balance, or written off when the
        # provider no longer refunds it.
        K.REVOKING: {K.REVOKED, K.WRITTEN_OFF},
        K.REVOKED: set(),
        K.WRITTEN_OFF: set(),
    },
)

B = StockBatch.Status

# A refill batch: planned (to buy, or to look up at the provider once sent), then completed
# (its eSIMs stored, its cost booked) or failed (the provider refused it: nothing bought).
STOCK_BATCH_STATES = StateTable.of(
    "Stock batch",
    {
        B.PLANNED: {B.COMPLETED, B.FAILED},
        B.COMPLETED: set(),
        B.FAILED: set(),
    },
)
