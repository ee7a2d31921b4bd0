"""Where a stock eSIM may go (`STOCK_ESIM_STATES`). Bought `available`; taken by one sale
(`sold`, the row locked by that sale) or taken back at the provider before its refund
window closes (`revoked`). Every move is a conditional update through
`ttelgo.state.transition_rows`."""

from __future__ import annotations

from fulfilment.stock.models import StockEsim
from ttelgo.state import StateTable

K = StockEsim.Status

STOCK_ESIM_STATES = StateTable.of(
    "Stock eSIM",
    {
        K.AVAILABLE: {K.SOLD, K.REVOKED},
        K.SOLD: set(),  # it is the order's eSIM now: the Esim table takes over
        K.REVOKED: set(),
    },
)
