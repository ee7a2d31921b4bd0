"""Row locks on fulfilment's rows: every `select_for_update` on an eSIM, an auto top-up
run, a provider refund or a stock eSIM goes through one of these (Saleor's `lock_objects`), so each row
is locked one way everywhere. eSIMs are locked `FOR NO KEY UPDATE` (their status and
counters change, never their key, so inserts that reference them do not wait);
`of=("self",)` keeps a `select_related` join unlocked. Stock eSIMs are taken with
`skip_locked`: a sale passes over the rows another sale is taking instead of waiting.
Stock settings are locked together while a refill plans its batches (fulfilment/stock/refill.py)."""

from __future__ import annotations

from django.db.models import QuerySet

from fulfilment.auto_topups.models import AutoTopupRun
from fulfilment.models import Esim, ProviderRefund
from fulfilment.stock.models import StockBatch, StockEsim, StockSetting


def esim_qs_select_for_update(*, of: tuple[str, ...] = ()) -> QuerySet[Esim]:
    return Esim.objects.select_for_update(no_key=True, of=of)


def auto_topup_run_qs_select_for_update() -> QuerySet[AutoTopupRun]:
    return AutoTopupRun.objects.select_for_update()


def provider_refund_qs_select_for_update() -> QuerySet[ProviderRefund]:
    return ProviderRefund.objects.select_for_update()


def stock_esim_qs_select_for_update(*, skip_locked: bool = False) -> QuerySet[StockEsim]:
    return StockEsim.objects.select_for_update(no_key=True, skip_locked=skip_locked)


def stock_setting_qs_select_for_update() -> QuerySet[StockSetting]:
    return StockSetting.objects.select_for_update(no_key=True)


def stock_batch_qs_select_for_update() -> QuerySet[StockBatch]:
    return StockBatch.objects.select_for_update(no_key=True)
