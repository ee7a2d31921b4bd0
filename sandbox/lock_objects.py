"""Row locks on sandbox PaymentIntents: every `select_for_update` on one goes through here
(Saleor's `lock_objects`), `FOR NO KEY UPDATE`."""

from __future__ import annotations

from django.db.models import QuerySet

from sandbox.models import SandboxPaymentIntent


def sandbox_payment_intent_qs_select_for_update() -> QuerySet[SandboxPaymentIntent]:
    return SandboxPaymentIntent.objects.select_for_update(no_key=True)
