"""The ledger's reactions to vendor changes (connected in `LedgerConfig.ready`), inside the
transaction that made them."""

from __future__ import annotations

from typing import Any

from billing.services import vendor_credit_limit_set
from ttelgo.money import Money
from vendors import signals
from vendors.models import Vendor


def _credit_limit_changed(*, vendor: Vendor, limit: Money, actor: Any = None, **_: Any) -> None:
    vendor_credit_limit_set(vendor=vendor, limit=limit, actor=actor)


def receivers_connect() -> None:
    signals.credit_limit_changed.connect(
        _credit_limit_changed, dispatch_uid="billing.receivers.credit_limit_changed"
    )
