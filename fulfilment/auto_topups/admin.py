"""Auto top-up rules and their runs in the operator console (read-only)."""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin, TabularInline

from fulfilment.auto_topups.models import AutoTopupRule, AutoTopupRun
from ttelgo.admin.console import (
    ReadOnlyAdminMixin,
)


class AutoTopupRunInline(ReadOnlyAdminMixin, TabularInline):
    model = AutoTopupRun
    extra = 0
    fields = ("created_at", "esim", "trigger", "status", "order", "detail")
    readonly_fields = fields
    ordering = ("-created_at",)


@admin.register(AutoTopupRule)
class AutoTopupRuleAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Auto top-up rules set by vendors and customers (through the API), with each time
    one fired: what it bought, or why it did not."""

    list_display = (
        "id",
        "vendor",
        "customer",
        "esim",
        "bundle_code",
        "below_percent",
        "expiry_days",
        "monthly_limit",
        "active",
        "created_at",
    )
    list_filter = ("active",)
    search_fields = ("=esim__iccid", "vendor__name", "customer__email", "bundle_code")
    list_select_related = ("vendor", "customer", "esim")
    readonly_fields = [f.name for f in AutoTopupRule._meta.fields]
    inlines = (AutoTopupRunInline,)


@admin.register(AutoTopupRun)
class AutoTopupRunAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("id", "esim", "rule", "trigger", "status", "order", "created_at")
    list_filter = ("status",)
    search_fields = ("=esim__iccid", "=order__id")
    list_select_related = ("esim", "rule", "order")
    readonly_fields = [f.name for f in AutoTopupRun._meta.fields]
