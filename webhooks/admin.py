"""Operator screens for outbound webhooks: endpoints (enable/disable) and deliveries
(attempt log, replay). Inbound events have their own admin elsewhere."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline

from ttelgo.errors import DomainError
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(SimpleHistoryAdmin, ModelAdmin):
    list_display = ("id", "vendor", "url", "enabled", "disabled_reason", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "vendor__name")
    exclude = ("secret_encrypted",)
    readonly_fields = (
        "vendor",
        "url",
        "events",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "created_at",
        "deleted_at",
    )
    actions = ("enable", "disable")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # vendors create endpoints through the API (the secret goes to them)

    @admin.action(description="Enable selected endpoints")
    def enable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.order_by("pk"):
            try:
                services.endpoint_enable(endpoint=endpoint)
            except DomainError as exc:
                messages.error(request, f"{endpoint}: {exc.message}")

    @admin.action(description="Disable selected endpoints")
    def disable(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset.order_by("pk"):
            services.endpoint_disable(
                endpoint=endpoint, reason=f"disabled by operator {request.user}", notify=False
            )


class WebhookAttemptInline(_ReadOnly, TabularInline):
    model = WebhookAttempt
    extra = 0
    fields = ("attempted_at", "status_code", "latency_ms", "succeeded", "error", "response_body")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly, ModelAdmin):
    list_display = (
        "id",
        "event",
        "endpoint",
        "status",
        "attempt_count",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = ("status", "event__type")
    search_fields = ("event__public_id", "endpoint__url", "endpoint__vendor__name")
    list_select_related = ("event", "endpoint")
    inlines = (WebhookAttemptInline,)
    actions = ("replay",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    @admin.action(description="Replay selected deliveries now (same webhook-id)")
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        done = 0
        for delivery in queryset.select_related("endpoint").order_by("pk"):
            try:
                services.delivery_retry(delivery=delivery)
                done += 1
            except DomainError as exc:
                messages.error(request, f"delivery {delivery.pk}: {exc.message}")
        if done:
            messages.success(request, f"Replaying {done} deliveries.")


@admin.register(WebhookEvent)
class WebhookEventAdmin(_ReadOnly, ModelAdmin):
    list_display = ("public_id", "vendor", "type", "created_at")
    list_filter = ("type",)
    search_fields = ("public_id", "vendor__name")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True
