"""Webhook endpoints and deliveries for the portal: the webhooks app's services, behind
the member's role (owner, admin and developer manage webhooks) and the member's vendor
(another vendor's endpoint or delivery is not found). Signing secrets are returned once."""

from __future__ import annotations

from typing import Any

from vendors.members import member_require
from vendors.models import VendorUser
from webhooks import selectors, services
from webhooks.models import WebhookDelivery, WebhookEndpoint


def member_endpoint_create(
    *, member: VendorUser, url: str, events: list[str]
) -> tuple[WebhookEndpoint, str]:
    member_require(member, "webhooks.manage")
    return services.endpoint_create(vendor=member.vendor, url=url, events=events)


def member_endpoint_rotate(*, member: VendorUser, endpoint_id: int) -> tuple[WebhookEndpoint, str]:
    member_require(member, "webhooks.manage")
    endpoint = selectors.endpoint_get(vendor=member.vendor, endpoint_id=endpoint_id)
    return services.endpoint_secret_rotate(endpoint=endpoint)


def member_endpoint_enabled_set(*, member: VendorUser, endpoint_id: int, enabled: bool) -> Any:
    member_require(member, "webhooks.manage")
    endpoint = selectors.endpoint_get(vendor=member.vendor, endpoint_id=endpoint_id)
    return services.endpoint_update(endpoint=endpoint, enabled=enabled)


def member_endpoint_test(*, member: VendorUser, endpoint_id: int) -> WebhookDelivery:
    member_require(member, "webhooks.manage")
    endpoint = selectors.endpoint_get(vendor=member.vendor, endpoint_id=endpoint_id)
    return services.endpoint_test(endpoint=endpoint)


def member_delivery_retry(*, member: VendorUser, delivery_id: int) -> WebhookDelivery:
    member_require(member, "webhooks.manage")
    delivery = selectors.delivery_get(vendor=member.vendor, delivery_id=delivery_id)
    return services.delivery_retry(delivery=delivery)


def member_endpoint_get(*, member: VendorUser, endpoint_id: int) -> WebhookEndpoint:
    member_require(member, "view")
    return selectors.endpoint_get(vendor=member.vendor, endpoint_id=endpoint_id)


def member_endpoint_update(
    *, member: VendorUser, endpoint_id: int, url: str, events: list[str]
) -> WebhookEndpoint:
    member_require(member, "webhooks.manage")
    endpoint = selectors.endpoint_get(vendor=member.vendor, endpoint_id=endpoint_id)
    return services.endpoint_update(endpoint=endpoint, url=url, events=events)


def member_delivery_get(*, member: VendorUser, delivery_id: int) -> WebhookDelivery:
    member_require(member, "view")
    return selectors.delivery_get(vendor=member.vendor, delivery_id=delivery_id)


def member_deliveries_retry(*, member: VendorUser, delivery_ids: list[int]) -> int:
    """Replay several deliveries (another vendor's ids are not found); returns how many."""
    member_require(member, "webhooks.manage")
    deliveries = [
        selectors.delivery_get(vendor=member.vendor, delivery_id=pk) for pk in delivery_ids
    ]
    for delivery in deliveries:
        services.delivery_retry(delivery=delivery)
    return len(deliveries)
