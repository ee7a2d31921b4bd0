"""Stock from the console (edit_catalogue: stock levels are part of what we sell and how):
the levels (validated by `StockSetting.clean`), a refill now, a release of stock back to
the provider. Each is audited; provider calls happen in the tasks they queue (after
commit, through the outbox), never in the operator's request."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from fulfilment.lock_objects import stock_esim_qs_select_for_update
from fulfilment.stock.models import StockEsim, StockSetting
from fulfilment.stock.refill import stock_refill_plan
from fulfilment.stock.state import STOCK_ESIM_STATES
from ttelgo.audit import audit_record
from ttelgo.outbox import task_enqueue
from ttelgo.permissions import operator_require
from ttelgo.state import transition_rows

PERM = "ttelgo.edit_catalogue"
FIELDS = ["enabled", "floor", "target", "capital_cap"]
REFILL_TASK = "fulfilment.tasks.stock_refill"
AGE_TASK = "fulfilment.tasks.stock_age"


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


def operator_stock_refill(*, setting: StockSetting, actor: Any) -> int:
    """Refill a bundle's stock now, up to its target, whatever its floor (within the
    caps): the batches are planned here and bought by the refill task queued at commit.
    Returns the eSIMs planned (0: at target, or the caps are reached)."""
    operator_require(actor, PERM)
    with transaction.atomic():
        batches = stock_refill_plan(
            bundle_code=setting.bundle.code,
            livemode=setting.livemode,
            requested_by=str(getattr(actor, "email", actor)),
            below_floor_only=False,
        )
        planned = sum(b.quantity for b in batches)
        audit_record(
            actor=actor,
            action="fulfilment.stock_refill",
            target=setting,
            after={"planned": planned, "batches": [b.reference for b in batches]},
        )
        task_enqueue(REFILL_TASK, setting.bundle.code)
    return planned


def operator_stock_release(*, setting: StockSetting, actor: Any, count: int | None = None) -> int:
    """Give `count` (all when None) free eSIMs of a bundle back to the provider, oldest
    first: they leave sale at once (`revoking`); the ageing task queued at commit asks the
    provider for the refund and books it (or writes off what it refuses). eSIMs a sale is
    taking right now are passed over. Returns how many were released."""
    operator_require(actor, PERM)
    reason = f"released by {getattr(actor, 'email', actor)}"
    with transaction.atomic():
        rows = (
            stock_esim_qs_select_for_update(skip_locked=True)
            .filter(
                bundle_code=setting.bundle.code,
                livemode=setting.livemode,
                status=StockEsim.Status.AVAILABLE,
            )
            .order_by("purchased_at", "id")
        )
        ids = list(
            rows.values_list("pk", flat=True)[:count]
            if count
            else rows.values_list("pk", flat=True)
        )
        released = transition_rows(
            StockEsim.objects.filter(pk__in=ids),
            table=STOCK_ESIM_STATES,
            to=StockEsim.Status.REVOKING,
            expected=StockEsim.Status.AVAILABLE,
            end_reason=reason[:500],
            updated_at=timezone.now(),
        )
        audit_record(
            actor=actor,
            action="fulfilment.stock_release",
            target=setting,
            after={"released": released},
        )
        if released:
            task_enqueue(AGE_TASK)
    return released
