"""Row locks on payments: every `select_for_update` on a payment goes through here
(Saleor's `lock_objects`). `FOR NO KEY UPDATE`: refunds and cards that reference the
payment can still be inserted while it is held."""

from __future__ import annotations

from django.db.models import QuerySet

from payments.models import Payment


def payment_qs_select_for_update() -> QuerySet[Payment]:
    return Payment.objects.select_for_update(no_key=True)
