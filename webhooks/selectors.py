"""Reads shared by the vendor API and the admin. Everything is scoped to one vendor."""

from __future__ import annotations

from django.db.models import QuerySet

from ttelgo.errors import DomainError
from vendors.models import Vendor
from webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoint_list(*, vendor: Vendor) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(vendor=vendor, deleted_at__isnull=True).order_by("-id")


def endpoint_get(*, vendor: Vendor, endpoint_id: int) -> WebhookEndpoint:
    endpoint = endpoint_list(vendor=vendor).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise DomainError("not_found", "No such webhook endpoint.")
    return endpoint


def delivery_list(
    *, vendor: Vendor, status: str | None = None, endpoint_id: int | None = None
) -> QuerySet[WebhookDelivery]:
    qs = (
        WebhookDelivery.objects.filter(vendor=vendor)
        .select_related("event", "endpoint")
        .order_by("-id")
    )
    if status:
        qs = qs.filter(status=status)
    if endpoint_id:
        qs = qs.filter(endpoint_id=endpoint_id)
    return qs


def delivery_get(*, vendor: Vendor, delivery_id: int) -> WebhookDelivery:
    delivery = delivery_list(vendor=vendor).filter(pk=delivery_id).first()
    if delivery is None:
        raise DomainError("not_found", "No such webhook delivery.")
    return delivery
