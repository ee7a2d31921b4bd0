"""Ready stock in the operator console.

The stock page (Fulfilment > Stock settings): per bundle and mode, its levels (editable,
through `operator_stock_setting_save`; empty floor and target show the computed ones),
how many eSIMs are free, their age profile, the capital they tie up, the sell-through,
what is on its way; the actions "Refill now" and "Release free stock" (through
`operator_stock_refill` / `operator_stock_release`, audited). The refill batches and the
stock eSIMs are read-only: they move only through the stock services; a written-off
eSIM shows its reason."""

from __future__ import annotations

import threading
from typing import Any

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from unfold.admin import ModelAdmin
from unfold.decorators import action

from fulfilment.stock.levels import stock_levels
from fulfilment.stock.models import StockBatch, StockEsim, StockSetting
from fulfilment.stock.operator import (
    PERM,
    operator_stock_refill,
    operator_stock_release,
    operator_stock_setting_save,
)
from fulfilment.stock.selectors import StockProfile, stock_profiles
from ttelgo.admin.console import ReadOnlyAdminMixin, money_text, run_service_each

_page = threading.local()


@admin.register(StockSetting)
class StockSettingAdmin(ModelAdmin):
    list_display = (
        "bundle",
        "livemode",
        "enabled",
        "available",
        "floor_shown",
        "target_shown",
        "coming",
        "age_profile",
        "capital_tied",
        "cap",
        "sell_through",
    )
    list_filter = ("livemode", "enabled")
    autocomplete_fields = ("bundle",)
    list_select_related = ("bundle",)
    fields = ("bundle", "livemode", "enabled", "floor", "target", "capital_cap")
    # What the stock page shows of one bundle beside its editable levels.
    facts = (
        "available",
        "floor_shown",
        "target_shown",
        "coming",
        "age_profile",
        "capital_tied",
        "sell_through",
        "ended",
    )
    actions = ["refill_now", "release"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.fields + (self.facts if obj is not None else ())

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("bundle", "livemode", *self.facts) if obj is not None else ()

    def _profile(self, obj: StockSetting) -> StockProfile:
        """The bundle's stock profile, from the grouped reads made once per page (kept per
        thread: one admin instance serves every request)."""
        profiles = getattr(_page, "profiles", None)
        if profiles is None:
            profiles = _page.profiles = stock_profiles()
        return profiles.get((obj.bundle.code, obj.livemode)) or StockProfile()

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        _page.profiles = stock_profiles()
        try:
            return super().changelist_view(request, extra_context)
        finally:
            _page.profiles = None

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        _page.profiles = stock_profiles()
        try:
            return super().change_view(request, object_id, form_url, extra_context)
        finally:
            _page.profiles = None

    @admin.display(description="floor")
    def floor_shown(self, obj: StockSetting) -> str:
        levels = stock_levels(obj)
        return f"{levels.floor} (computed)" if levels.computed else str(levels.floor)

    @admin.display(description="target")
    def target_shown(self, obj: StockSetting) -> str:
        levels = stock_levels(obj)
        return f"{levels.target} (computed)" if levels.computed else str(levels.target)

    @admin.display(description="on its way")
    def coming(self, obj: StockSetting) -> int:
        return self._profile(obj).coming

    @admin.display(description="age profile")
    def age_profile(self, obj: StockSetting) -> str:
        return self._profile(obj).age_text()

    @admin.display(description="capital tied")
    def capital_tied(self, obj: StockSetting) -> str:
        return money_text(self._profile(obj).tied, obj.bundle.currency)

    @admin.display(description="sell-through")
    def sell_through(self, obj: StockSetting) -> str:
        share = self._profile(obj).sell_through
        return "-" if share is None else f"{share:.0%}"

    @admin.display(description="given back or written off")
    def ended(self, obj: StockSetting) -> int:
        return self._profile(obj).ended

    def has_stock_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm(PERM))

    @action(description="Refill now (up to the target)", permissions=["stock"])
    def refill_now(self, request: HttpRequest, queryset: QuerySet[StockSetting]) -> None:
        def refill(pk: int) -> str:
            setting = StockSetting.objects.select_related("bundle").get(pk=pk)
            planned = operator_stock_refill(setting=setting, actor=request.user)
            if not planned:
                return f"{setting}: at its target or its capital caps; nothing to buy."
            return f"{setting}: {planned} eSIMs to buy now."

        run_service_each(self, request, queryset, refill)

    @action(description="Release free stock back to the provider", permissions=["stock"])
    def release(self, request: HttpRequest, queryset: QuerySet[StockSetting]) -> None:
        def give_back(pk: int) -> str:
            setting = StockSetting.objects.select_related("bundle").get(pk=pk)
            released = operator_stock_release(setting=setting, actor=request.user)
            return f"{setting}: {released} eSIMs given back to the provider for a refund."

        run_service_each(self, request, queryset, give_back)

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


@admin.register(StockBatch)
class StockBatchAdmin(ReadOnlyAdminMixin, ModelAdmin):
    """Refill orders at the provider: what each bought, or why it waits or failed."""

    list_display = (
        "reference",
        "bundle_code",
        "livemode",
        "quantity",
        "status",
        "provider_reference",
        "attempts",
        "due_at",
        "last_error",
        "created_at",
    )
    list_filter = ("status", "livemode")
    search_fields = ("=reference", "=provider_reference", "bundle_code")


@admin.register(StockEsim)
class StockEsimAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = (
        "iccid",
        "bundle_code",
        "livemode",
        "status",
        "purchased_at",
        "sold_at",
        "ended_at",
        "end_reason",
    )
    list_filter = ("status", "livemode")
    search_fields = ("=iccid", "bundle_code", "provider_reference")
    ordering = ("purchased_at", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockEsim]:
        return super().get_queryset(request).select_related("esim")
