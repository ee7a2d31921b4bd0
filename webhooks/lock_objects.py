"""Row locks on webhook endpoints, deliveries and inbound events: every
`select_for_update` on them goes through here (Saleor's `lock_objects`). All are
`FOR NO KEY UPDATE`; `skip_locked` is for sweeps that take whatever nobody else holds,
`of=("self",)` keeps a join unlocked."""

from __future__ import annotations

from django.db.models import QuerySet

from webhooks.models import InboundEvent, WebhookDelivery, WebhookEndpoint


def webhook_endpoint_qs_select_for_update() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.select_for_update(no_key=True)


def webhook_delivery_qs_select_for_update(
    *, skip_locked: bool = False, of: tuple[str, ...] = ()
) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.select_for_update(no_key=True, skip_locked=skip_locked, of=of)


def inbound_event_qs_select_for_update(*, skip_locked: bool = False) -> QuerySet[InboundEvent]:
    return InboundEvent.objects.select_for_update(no_key=True, skip_locked=skip_locked)
