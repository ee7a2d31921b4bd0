"""What the vendors app tells the apps above it, inside the transaction that changed the
vendor. The ledger connects its receivers in `LedgerConfig.ready`; vendors import nothing
of the ledger."""

from django.dispatch import Signal

# A postpaid vendor's credit line changed. kwargs: vendor, limit (Money), actor
credit_limit_changed = Signal()
