"""Webhook test helpers. Public IP literals keep the SSRF guard happy with no DNS lookup;
`responses` intercepts the HTTP, so nothing leaves the machine."""

from __future__ import annotations

from ttelgo.outbox import EVENT_TYPES
from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_create

# A public IP literal: the SSRF guard accepts it without a DNS lookup.
PUBLIC_URL = "https://93.184.215.14/hooks"


def endpoint_for(
    vendor, *, url: str = PUBLIC_URL, events=EVENT_TYPES
) -> tuple[WebhookEndpoint, str]:
    return endpoint_create(vendor=vendor, url=url, events=list(events))


def events_publish() -> int:
    """Publish the domain events recorded in this test's transaction, as their outbox
    messages (`webhooks.tasks.event_publish`) would once it commits; how many."""
    from ttelgo.models import OutboxMessage
    from ttelgo.outbox import EVENT_PUBLISH_TASK
    from webhooks.tasks import event_publish

    rows = list(OutboxMessage.objects.filter(task=EVENT_PUBLISH_TASK).order_by("id"))
    for row in rows:
        event_publish(*row.args)
        row.delete()
    return len(rows)
