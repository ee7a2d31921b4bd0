"""Operator screens: catalogue with overrides, price rules, geography, "sync now"."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action

from ttelgo.admin.console import MoneyColumnsMixin, operator_form
from ttelgo.money import Money

from .models import (
    Bundle,
    BundleOffer,
    BundlePriceHistory,
    Country,
    PriceRule,
    ProviderRule,
    Region,
)
from .operator import (
    operator_bundle_overrides,
    operator_catalogue_sync,
    operator_price_rule_delete,
    operator_price_rule_save,
    operator_provider_rule_save,
)
from .services import OVERRIDE_FIELDS, catalogue_sync_status


@admin.register(Region)
class RegionAdmin(ModelAdmin):
    list_display = ("name", "code")
    search_fields = ("name", "code")


@admin.register(Country)
class CountryAdmin(ModelAdmin):
    list_display = ("name", "iso", "region")
    list_filter = ("region",)
    search_fields = ("name", "iso")


class PriceHistoryInline(MoneyColumnsMixin, TabularInline):
    model = BundlePriceHistory
    money_fields = {"cost_amount": "currency", "retail_amount": "currency"}
    extra = 0
    can_delete = False
    fields = ("created_at", "reason", "cost_amount", "retail_amount", "currency")
    readonly_fields = fields
    ordering = ("-created_at",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Set by the catalogue sync and repricing: shown on the bundle page, never edited there.
PROVIDER_FIELDS = (
    "code",
    "provider",
    "provider_description",
    "region",
    "countries",
    "data_mb",
    "unlimited",
    "validity_days",
    "cost_amount",
    "currency",
    "retail_amount",
    "is_active",
    "last_synced_at",
    "deactivated_at",
)


@admin.register(Bundle)
class BundleAdmin(MoneyColumnsMixin, ModelAdmin):
    money_fields = {"cost_amount": "currency", "retail_amount": "currency"}
    list_display = (
        "code",
        "name",
        "region",
        "data_mb",
        "unlimited",
        "validity_days",
        "cost",
        "retail",
        "is_active",
        "hidden",
        "featured",
    )
    list_filter = ("is_active", "hidden", "featured", "unlimited", "region")
    search_fields = ("code", "display_name", "provider_description")
    list_select_related = ("region",)
    inlines = [PriceHistoryInline]
    actions_list = ["sync_now"]
    actions = ["hide", "unhide"]
    fieldsets = (
        ("Overrides (kept across syncs)", {"fields": OVERRIDE_FIELDS}),
        ("From the provider", {"fields": PROVIDER_FIELDS}),
        ("Other providers' offers (routing)", {"fields": ("offers",)}),
    )
    readonly_fields = (*PROVIDER_FIELDS, "offers")

    @admin.display(description="offers")
    def offers(self, obj: Bundle) -> str:
        """Other providers' equivalents (fulfilment/routing.py), as the offers sync left
        them: provider, its code, cost, active, operator priority."""
        rows = [
            f"{o.provider} {o.provider_code}: {Money(o.cost_amount, o.currency)}"
            f"{'' if o.is_active else ' (inactive)'}"
            f"{f', priority {o.priority}' if o.priority is not None else ''}"
            for o in BundleOffer.objects.filter(bundle=obj).order_by("provider")
        ]
        return "; ".join(rows) or "none"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # bundles come from the provider

    # The last sync's state on the list, reloading itself while one is queued or running.
    change_list_template = "admin/catalogue/bundle/change_list.html"

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        status = catalogue_sync_status()
        return super().changelist_view(request, {**(extra_context or {}), "sync_status": status})

    @admin.display(description="cost")
    def cost(self, obj: Bundle) -> str:
        return str(Money(obj.cost_amount, obj.currency))

    @admin.display(description="retail")
    def retail(self, obj: Bundle) -> str:
        return str(Money(obj.retail_amount, obj.currency))

    def has_catalogue_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.edit_catalogue"))

    def save_model(self, request: HttpRequest, obj: Bundle, form: Any, change: bool) -> None:
        changed = [f for f in OVERRIDE_FIELDS if f in form.changed_data]
        if changed:
            operator_bundle_overrides(
                bundle_id=obj.pk, actor=request.user, **{f: getattr(obj, f) for f in changed}
            )

    @action(description="Sync catalogue now", url_path="sync-now", permissions=["catalogue"])
    def sync_now(self, request: HttpRequest) -> HttpResponse:
        """GET asks for confirmation; the sync itself runs only on a POST (with CSRF)."""

        def perform(form: forms.Form) -> str:
            operator_catalogue_sync(actor=request.user)
            return "Sync started: this list shows its progress and outcome."

        return operator_form(
            request,
            model_admin=self,
            obj=None,
            form_class=forms.Form,
            title="Sync the catalogue from the provider",
            submit_label="Sync now",
            perform=perform,
            summary=[("Provider", settings.ESIM_PROVIDER), ("Bundles now", Bundle.objects.count())],
            redirect_to=reverse("admin:catalogue_bundle_changelist"),
        )

    @admin.action(description="Hide from the catalogue", permissions=["catalogue"])
    def hide(self, request: HttpRequest, queryset: QuerySet[Bundle]) -> None:
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            operator_bundle_overrides(bundle_id=pk, actor=request.user, hidden=True)

    @admin.action(description="Show in the catalogue", permissions=["catalogue"])
    def unhide(self, request: HttpRequest, queryset: QuerySet[Bundle]) -> None:
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            operator_bundle_overrides(bundle_id=pk, actor=request.user, hidden=False)


@admin.register(PriceRule)
class PriceRuleAdmin(ModelAdmin):
    list_display = ("__str__", "scope", "markup_bps", "rounding", "min_margin_bps", "active")
    list_filter = ("scope", "active")
    autocomplete_fields = ("bundle",)
    list_select_related = ("region", "country", "bundle")

    def save_model(self, request: HttpRequest, obj: PriceRule, form: Any, change: bool) -> None:
        changed = operator_price_rule_save(
            rule=obj, actor=request.user, changed=list(form.changed_data)
        )
        self.message_user(request, f"Repriced: {changed} bundle prices changed.")

    def delete_model(self, request: HttpRequest, obj: PriceRule) -> None:
        operator_price_rule_delete(rule=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PriceRule]) -> None:
        for rule in queryset.order_by("pk"):
            operator_price_rule_delete(rule=rule, actor=request.user)


@admin.register(ProviderRule)
class ProviderRuleAdmin(SimpleHistoryAdmin, ModelAdmin):
    """Routing per provider: its priority over the others and the switch that drains it.
    Changes are audited and kept in the history (the "History" button)."""

    list_display = ("provider", "priority", "drained", "note", "updated_at")
    list_editable = ()
    fields = ("provider", "priority", "drained", "note")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("provider",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # drain it instead: its history stays

    def save_model(self, request: HttpRequest, obj: ProviderRule, form: Any, change: bool) -> None:
        operator_provider_rule_save(rule=obj, actor=request.user, changed=list(form.changed_data))
