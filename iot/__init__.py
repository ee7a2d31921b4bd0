"""IoT SIM fleets: a vendor's 1NCE SIMs, their daily usage, quotas and top-ups, SMS to and
from them (docs/IOT.md). Beside `fulfilment` in the layers: it sells (through billing
and the ledger) and asks the provider layer, and is asked by the API, portal and console."""
