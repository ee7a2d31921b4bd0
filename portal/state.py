"""The bulk order file's status table: it moves only through this and `ttelgo.state`
(compare-and-set)."""

from __future__ import annotations

from portal.models import BulkOrder
from ttelgo.state import StateTable

B = BulkOrder.Status

BULK_ORDER_STATES = StateTable.of(
    "Bulk order",
    {B.QUEUED: {B.RUNNING}, B.RUNNING: {B.DONE}, B.DONE: set()},
)
