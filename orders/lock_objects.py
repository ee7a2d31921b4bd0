"""Row locks on the sale's rows: every `select_for_update` on an order, an eSIM, an auto
top-up run or a provider refund goes through one of these (Saleor's `lock_objects`), so
each row is locked one way everywhere. Orders and eSIMs are locked `FOR NO KEY UPDATE`
(their status and counters change, never their key, so inserts that reference them do
not wait); `of=("self",)` keeps a `select_related` join unlocked; `skip_locked` is for
sweeps that take whatever nobody else holds."""

from __future__ import annotations

from django.db.models import QuerySet

from orders.auto_topup_models import AutoTopupRun
from orders.esim_records import Esim, ProviderRefund
from orders.models import Order


def order_qs_select_for_update(*, skip_locked: bool = False) -> QuerySet[Order]:
    return Order.objects.select_for_update(no_key=True, skip_locked=skip_locked)


def esim_qs_select_for_update(*, of: tuple[str, ...] = ()) -> QuerySet[Esim]:
    return Esim.objects.select_for_update(no_key=True, of=of)


def auto_topup_run_qs_select_for_update() -> QuerySet[AutoTopupRun]:
    return AutoTopupRun.objects.select_for_update()


def provider_refund_qs_select_for_update() -> QuerySet[ProviderRefund]:
    return ProviderRefund.objects.select_for_update()
