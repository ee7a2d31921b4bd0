"""Row locks on the sale's rows: every `select_for_update` on an order goes through this
(Saleor's `lock_objects`), so an order is locked one way everywhere. Orders are locked
`FOR NO KEY UPDATE` (their status and counters change, never their key, so inserts that
reference them do not wait); `skip_locked` is for sweeps that take whatever nobody else
holds."""

from __future__ import annotations

from django.db.models import QuerySet

from orders.models import Order


def order_qs_select_for_update(*, skip_locked: bool = False) -> QuerySet[Order]:
    return Order.objects.select_for_update(no_key=True, skip_locked=skip_locked)
