"""Fraud assessment of paid orders.

The configurable rules engine is part of the operator console; until it lands every
order passes (returns no reasons).
"""

from __future__ import annotations

from orders.models import Order


def fraud_assess(*, order: Order) -> list[str]:
    return []
