"""Webhook operations from the console: reprocess a stored inbound event, replay an
outbound delivery, enable or disable a vendor endpoint. Role-checked and audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ttelgo.audit import audit_record
from ttelgo.permissions import operator_require
from webhooks.models import InboundEvent, WebhookDelivery, WebhookEndpoint

PERM = "ttelgo.replay_webhooks"


def operator_inbound_reprocess(*, event_id: int, actor: Any) -> InboundEvent:
    """Run a stored Stripe/provider event's handler again (handlers are idempotent)."""
    from webhooks.inbound import inbound_event_reprocess

    operator_require(actor, PERM)
    before = dict(InboundEvent.objects.values("status", "attempts").get(pk=event_id))
    event = inbound_event_reprocess(event_id=event_id)
    audit_record(
        actor=actor,
        action="webhook.inbound_reprocess",
        target=event,
        before=before,
        after={"status": event.status, "attempts": event.attempts, "error": event.error},
    )
    return event


def operator_delivery_replay(*, delivery_id: int, actor: Any) -> WebhookDelivery:
    """Send an outbound delivery again now (same webhook-id and body)."""
    from webhooks.services import delivery_retry

    operator_require(actor, PERM)
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    before = {"status": delivery.status, "attempt_count": delivery.attempt_count}
    with transaction.atomic():
        delivery = delivery_retry(delivery=delivery)
        audit_record(
            actor=actor,
            action="webhook.delivery_replay",
            target=delivery,
            before=before,
            after={"status": delivery.status},
        )
    return delivery


def operator_endpoint_set_enabled(
    *, endpoint_id: int, actor: Any, enabled: bool, reason: str = ""
) -> WebhookEndpoint:
    from webhooks.services import endpoint_disable, endpoint_enable

    operator_require(actor, PERM)
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    before = {"enabled": endpoint.enabled, "disabled_reason": endpoint.disabled_reason}
    with transaction.atomic():
        if enabled:
            endpoint_enable(endpoint=endpoint)
        else:
            endpoint_disable(
                endpoint=endpoint,
                reason=reason or f"disabled by operator {getattr(actor, 'email', actor)}",
                notify=False,
            )
        endpoint.refresh_from_db()
        audit_record(
            actor=actor,
            action="webhook.endpoint_enable" if enabled else "webhook.endpoint_disable",
            target=endpoint,
            before=before,
            after={"enabled": endpoint.enabled, "disabled_reason": endpoint.disabled_reason},
            reason=reason,
        )
    return endpoint
