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
