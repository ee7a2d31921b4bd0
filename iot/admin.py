"""IoT fleets in the console: read-only views of SIMs (filter by vendor, status, quota
level; search by ICCID, MSISDN, label), their events, top-ups, SMS and bulk jobs. Their rows change
only through the fleet's services (sync, API); SIMs are given to vendors with
`manage.py iot_sims_assign`."""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin

from iot.models import IotBulkJob, IotSim, IotSimEvent, IotSms, IotTopup
from ttelgo.admin.console import ReadOnlyAdminMixin, money_text


@admin.register(IotSim)
class IotSimAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "iccid",
        "vendor",
        "livemode",
        "status",
        "label",
        "data_level",
        "sms_level",
        "synced_at",
    )
    list_filter = ("livemode", "status", "data_level", "sms_level", "provider")
    search_fields = ("iccid", "msisdn", "imsi", "label")
    list_select_related = ("vendor",)
    show_full_result_count = False  # a fleet of 100,000 SIMs: no COUNT(*) per page


@admin.register(IotSimEvent)
class IotSimEventAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """What the provider logged per SIM (attach, detach, sessions, quota warnings, status
    changes), newest first; searched by the SIM's ICCID."""

    list_display = ("at", "sim", "vendor", "livemode", "kind", "upstream_kind", "status")
    list_filter = ("livemode", "kind", "alert")
    search_fields = ("=sim__iccid",)
    list_select_related = ("vendor", "sim")
    show_full_result_count = False  # a fleet's events grow by the day: no COUNT(*) per page


@admin.register(IotTopup)
class IotTopupAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "id",
        "vendor",
        "sim",
        "source",
        "status",
        "price",
        "provider_order",
        "created_at",
    )
    list_filter = ("livemode", "status", "source")
    search_fields = ("sim__iccid", "provider_order")
    list_select_related = ("vendor", "sim")

    @admin.display(description="Price")
    def price(self, obj: IotTopup) -> str:
        return money_text(obj.price_amount, obj.currency)


@admin.register(IotSms)
class IotSmsAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("id", "vendor", "sim", "direction", "status", "created_at")
    list_filter = ("livemode", "direction", "status")
    search_fields = ("sim__iccid",)
    list_select_related = ("vendor", "sim")


@admin.register(IotBulkJob)
class IotBulkJobAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("id", "vendor", "action", "status", "done", "total", "created_at")
    list_filter = ("livemode", "status", "action")
    list_select_related = ("vendor",)
    exclude = ("sim_ids",)
