"""Demo data for `manage.py seed_demo`: ready stock for the two cheapest sandbox bundles,
live and test mode, so the refill fills it under `make run` (the embedded beat's
`stock-refill` job, every minute) and the console's stock page has something to show."""

from __future__ import annotations

from typing import Any

from catalogue.models import Bundle
from fulfilment.stock.models import StockSetting

DEMO_STOCKED = 2
FLOOR, TARGET = 5, 10


def seed_demo(stdout: Any) -> list[str]:
    bundles = list(
        Bundle.objects.filter(is_active=True, hidden=False).order_by("cost_amount", "code")[
            :DEMO_STOCKED
        ]
    )
    for bundle in bundles:
        for livemode in (True, False):
            StockSetting.objects.get_or_create(
                bundle=bundle,
                livemode=livemode,
                defaults={
                    "floor": FLOOR,
                    "target": TARGET,
                    "capital_cap": bundle.cost_amount * TARGET * 2,
                },
            )
    codes = ", ".join(b.code for b in bundles) or "none"
    return [f"Ready stock: {codes} (floor {FLOOR}, target {TARGET}; filled within minutes)"]
