"""Ready stock in the operator console: the stock levels per bundle (editable, through
`operator_stock_setting_save`) with how many eSIMs are free now, and the stock eSIMs
(read-only: they move only through the stock services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from fulfilment.stock.models import StockEsim, StockSetting
from fulfilment.stock.operator import operator_stock_setting_save
from ttelgo.admin.console import ReadOnlyAdminMixin, money_text


@admin.register(StockSetting)
class StockSettingAdmin(ModelAdmin):
    list_display = ("bundle", "livemode", "enabled", "available", "floor", "target", "cap")
    list_filter = ("livemode", "enabled")
    autocomplete_fields = ("bundle",)
    list_select_related = ("bundle",)
    fields = ("bundle", "livemode", "enabled", "floor", "target", "capital_cap")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("bundle", "livemode") if obj is not None else ()

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockSetting]:
        free = (
            StockEsim.objects.filter(
                bundle_code=OuterRef("bundle__code"),
                livemode=OuterRef("livemode"),
                status=StockEsim.Status.AVAILABLE,
            )
            .order_by()
            .values("bundle_code")
            .annotate(n=Count("id"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(free=Coalesce(Subquery(free, output_field=IntegerField()), 0))
        )

    @admin.display(description="available", ordering="free")
    def available(self, obj: StockSetting) -> int:
        return int(getattr(obj, "free", 0))

    @admin.display(description="capital cap")
    def cap(self, obj: StockSetting) -> str:
        return money_text(obj.capital_cap, obj.bundle.currency)

    def save_model(self, request: HttpRequest, obj: StockSetting, form: Any, change: bool) -> None:
        operator_stock_setting_save(
            setting=obj, actor=request.user, changed=list(form.changed_data)
        )


@admin.register(StockEsim)
class StockEsimAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("iccid", "bundle_code", "livemode", "status", "purchased_at", "sold_at")
    list_filter = ("status", "livemode")
    search_fields = ("=iccid", "bundle_code", "provider_reference")
    ordering = ("purchased_at", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockEsim]:
        return super().get_queryset(request).select_related("esim")
