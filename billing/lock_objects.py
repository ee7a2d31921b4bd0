"""Row locks on invoices: every `select_for_update` on an invoice goes through here
(Saleor's `lock_objects`). `FOR NO KEY UPDATE`: only their status and amounts change."""

from __future__ import annotations

from django.db.models import QuerySet

from billing.models import Invoice


def invoice_qs_select_for_update() -> QuerySet[Invoice]:
    return Invoice.objects.select_for_update(no_key=True)
