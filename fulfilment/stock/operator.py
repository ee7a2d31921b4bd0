"""Stock settings from the console (edit_catalogue: stock levels are part of what we sell
and how): validated by the model (`StockSetting.clean`) and audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from fulfilment.stock.models import StockSetting
from ttelgo.audit import audit_record
from ttelgo.permissions import operator_require

PERM = "ttelgo.edit_catalogue"
FIELDS = ["enabled", "floor", "target", "capital_cap"]


def operator_stock_setting_save(
    *, setting: StockSetting, actor: Any, changed: list[str]
) -> StockSetting:
    """Save an operator's stock levels for a bundle: refused (`ValidationError`, shown on
    the form) when the target is below the floor or would cost more than the cap."""
    operator_require(actor, PERM)
    setting.full_clean()
    with transaction.atomic():
        setting.save()
        audit_record(
            actor=actor,
            action="fulfilment.stock_setting_save",
            target=setting,
            after={name: getattr(setting, name) for name in changed or FIELDS},
        )
    return setting
