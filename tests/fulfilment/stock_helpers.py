"""Stock rows for the stock tests: settings for the sandbox bundle, eSIMs bought ahead."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from catalogue.models import Bundle
from fulfilment.stock.models import StockEsim, StockSetting
from tests.orders.factories import BUNDLE_CODE

_serial = itertools.count(1)


def stock_setting(*, livemode: bool = True, **fields: int | bool) -> StockSetting:
    values: dict[str, int | bool] = {"floor": 5, "target": 20, "capital_cap": 100_000}
    values.update(fields)
    return StockSetting.objects.create(
        bundle=Bundle.objects.get(code=BUNDLE_CODE), livemode=livemode, **values
    )


def stock_esims(count: int, *, livemode: bool = True, cost: int = 139) -> list[StockEsim]:
    """`count` available eSIMs of the sandbox bundle, bought a minute apart (oldest first)."""
    start = timezone.now() - timedelta(days=1)
    return [
        StockEsim.objects.create(
            iccid=f"8944900{next(_serial):012d}",
            bundle_code=BUNDLE_CODE,
            livemode=livemode,
            smdp_address="rsp.sandbox.example",
            matching_id=f"STOCK-{n}",
            cost_amount=cost,
            currency="USD",
            provider_reference="stock-batch-1",
            purchased_at=start + timedelta(minutes=n),
        )
        for n in range(count)
    ]
