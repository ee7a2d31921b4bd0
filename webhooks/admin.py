"""Operator screens for outbound webhooks: endpoints (enable/disable) and deliveries
(attempt log, replay); stored inbound events (reprocess)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display

from ttelgo.admin.console import (
    LargeTableAdminMixin,
    ReadOnlyAdminMixin,
    RecentValuesFieldListFilter,
)
from ttelgo.errors import DomainError
from webhooks.models import (
    InboundEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from webhooks.operator import (
    operator_delivery_replay,
    operator_endpoint_set_enabled,
    operator_inbound_reprocess,
)


def _pretty(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(SimpleHistoryAdmin, ModelAdmin):
    list_display = (
        "id",
        "vendor",
        "url",
        "enabled",
        "disabled_reason",
        "disabled_automatically",
        "consecutive_failures",
        "failing_since",
        "created_at",
    )
    # "Disabled automatically: yes" with "Enabled: no" lists the endpoints we disabled
    # (the sidebar counts last week's).
    list_filter = ("enabled", "disabled_automatically")
    search_fields = ("url", "vendor__name")
    exclude = ("secret_encrypted",)
    readonly_fields = (
        "vendor",
        "url",
        "events",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "disabled_automatically",
        "consecutive_failures",
        "failing_since",
        "paused_until",
        "created_at",
        "deleted_at",
    )
    actions = ("enable", "disable")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # vendors create endpoints through the API (the secret goes to them)

    def has_replay_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.replay_webhooks"))

    @admin.action(description="Enable selected endpoints", permissions=["replay"])
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.order_by("pk"):
            try:
                operator_endpoint_set_enabled(
                    endpoint_id=endpoint.pk, actor=request.user, enabled=True
                )
            except DomainError as exc:
                messages.error(request, f"{endpoint}: {exc.message}")

    @admin.action(description="Disable selected endpoints", permissions=["replay"])
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.order_by("pk"):
            operator_endpoint_set_enabled(
                endpoint_id=endpoint.pk,
                actor=request.user,
                enabled=False,
                reason=f"disabled by operator {request.user}",
            )


def _short(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


class WebhookAttemptInline(ReadOnlyAdminMixin, TabularInline):
    model = WebhookAttempt
    extra = 0
    fields = ("attempted_at", "status_code", "latency_ms", "succeeded", "error", "response_body")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    # Narrow columns: a long endpoint URL or vendor name is shortened in the list (the
    # record page shows it whole), so the table fits a laptop screen.
    list_display = (
        "id",
        "event_type",
        "vendor_name",
        "endpoint_host",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = ("status", ("event__type", RecentValuesFieldListFilter))
    search_fields = ("event__public_id", "endpoint__url", "endpoint__vendor__name")
    list_select_related = ("event", "endpoint__vendor")
    inlines = (WebhookAttemptInline,)
    actions = ("replay",)
    actions_detail = ("replay_detail",)
    readonly_fields = (
        "event",
        "endpoint",
        "status",
        "attempt_count",
        "next_attempt_at",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "payload_pretty",
    )

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_replay_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.replay_webhooks"))

    @display(description="event", ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.event.type

    @display(description="vendor", ordering="endpoint__vendor__name")
    def vendor_name(self, obj: WebhookDelivery) -> str:
        return _short(obj.endpoint.vendor.name, 28)

    @display(description="endpoint")
    def endpoint_host(self, obj: WebhookDelivery) -> str:
        url = obj.endpoint.url
        return format_html('<span title="{}">{}</span>', url, _short(urlsplit(url).netloc, 32))

    @display(description="payload")
    def payload_pretty(self, obj: WebhookDelivery) -> str:
        return _pretty({"type": obj.event.type, "id": obj.event.public_id, "data": obj.event.data})

    @admin.action(
        description="Replay selected deliveries now (same webhook-id)", permissions=["replay"]
    )
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        done = 0
        for delivery in queryset.select_related("endpoint").order_by("pk"):
            try:
                operator_delivery_replay(delivery_id=delivery.pk, actor=request.user)
                done += 1
            except DomainError as exc:
                messages.error(request, f"delivery {delivery.pk}: {exc.message}")
        if done:
            messages.success(request, f"Replaying {done} deliveries.")

    @action(description="Replay now", url_path="replay", permissions=["replay"], icon="replay")
    def replay_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        try:
            operator_delivery_replay(delivery_id=int(object_id), actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Replaying the delivery now (same webhook-id).")
        return HttpResponseRedirect(
            reverse("admin:webhooks_webhookdelivery_change", args=[object_id])
        )


@admin.register(WebhookEvent)
class WebhookEventAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("public_id", "vendor", "type", "created_at")
    readonly_fields = ("public_id", "vendor", "type", "created_at", "data_pretty")
    exclude = ("data",)

    @display(description="data")
    def data_pretty(self, obj: WebhookEvent) -> str:
        return _pretty(obj.data)

    list_filter = (("type", RecentValuesFieldListFilter),)
    search_fields = ("public_id", "vendor__name")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


@admin.register(InboundEvent)
class InboundEventAdmin(LargeTableAdminMixin, ModelAdmin):
    list_display = ("event_id", "source", "event_type", "status", "attempts", "received_at")
    list_filter = ("source", "status", ("event_type", RecentValuesFieldListFilter))
    search_fields = ("event_id", "event_type")
    readonly_fields = (
        "source",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "error",
        "received_at",
        "processed_at",
        "payload_pretty",
    )
    exclude = ("payload",)
    actions = ["reprocess"]
    actions_detail = ["reprocess_detail"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="payload")
    def payload_pretty(self, obj: InboundEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, sort_keys=True))

    def has_replay_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.replay_webhooks"))

    @action(description="Reprocess the selected events", permissions=["replay"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> None:
        results: dict[str, int] = {}
        for event_id in queryset.order_by("id").values_list("id", flat=True):
            status = operator_inbound_reprocess(event_id=event_id, actor=request.user).status
            results[status] = results.get(status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(results.items()))
        level = messages.WARNING if results.get(InboundEvent.Status.FAILED) else messages.SUCCESS
        self.message_user(request, f"Reprocessed: {summary}.", level)

    @action(description="Reprocess", url_path="reprocess", permissions=["replay"], icon="replay")
    def reprocess_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        event = operator_inbound_reprocess(event_id=int(object_id), actor=request.user)
        level = messages.WARNING if event.status == InboundEvent.Status.FAILED else messages.SUCCESS
        self.message_user(request, f"Event {event.event_id}: {event.status}.", level)
        return HttpResponseRedirect(reverse("admin:webhooks_inboundevent_change", args=[object_id]))
