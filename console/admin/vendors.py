"""Operator screens: vendor approval, suspension, credit and tier changes, API keys.

Money and status fields are read-only here; they change only through the services (the
actions below), which lock, validate, sync the ledger and write the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin
from unfold.admin import ModelAdmin
from unfold.forms import ActionForm
from unfold.widgets import (
    UnfoldAdminDecimalFieldWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
)

from billing.selectors import vendor_balance
from billing.subvendors import sub_vendor_tree
from console.vendors_console import VENDOR_CONSOLE_ACTIONS_DETAIL, VendorConsoleMixin
from ttelgo.admin.console import LargeTableAdminMixin, MinorUnitsField, run_service_each
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors import operator
from vendors.branding import FIELDS, brand_validate
from vendors.models import (
    Vendor,
    VendorAPIKey,
    VendorBrand,
    VendorUser,
    default_usage_alert_levels,
)


class SubVendorFilter(admin.SimpleListFilter):
    title = "place in the reseller tree"
    parameter_name = "tree"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("top", "signed by the platform"), ("sub", "sub-vendors")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Vendor]) -> QuerySet[Vendor]:
        if self.value() == "top":
            return queryset.filter(parent__isnull=True)
        if self.value() == "sub":
            return queryset.filter(parent__isnull=False)
        return queryset


class VendorActionForm(ActionForm):
    """Extra inputs shown next to the action menu; each action reads what it needs.

    They use the console's own input widgets: a white box with dark text on the purple
    action bar (a plain input there was transparent and borderless, with white text:
    invisible; tests/console/test_browser_action_bar.py measures it)."""

    reason = forms.CharField(
        required=False,
        label="Reason",
        widget=UnfoldAdminTextInputWidget(attrs={"placeholder": "Reason"}),
    )
    credit_limit = forms.DecimalField(
        required=False,
        min_value=0,
        decimal_places=3,
        label="Credit limit",
        widget=UnfoldAdminDecimalFieldWidget(attrs={"placeholder": "0.00"}),
    )
    tier = forms.ChoiceField(
        required=False,
        choices=[("", "Tier"), *list(Vendor.Tier.choices)],
        label="",
        widget=UnfoldAdminSelectWidget(attrs={"aria-label": "Tier"}),
    )


def _reason(request: HttpRequest) -> str:
    return request.POST.get("reason", "").strip()


def _status_each(
    model_admin: Any,
    request: HttpRequest,
    queryset: QuerySet[Vendor],
    change: Callable[..., Vendor],
    done: str,
) -> None:
    """A bulk status action: the same operator function as the single-vendor form (role
    check, reason, audit) for each selected vendor, each reported on its own."""
    reason = _reason(request)

    def act(pk: int) -> str:
        return f"{change(vendor_id=pk, actor=request.user, reason=reason)} {done}."

    run_service_each(model_admin, request, queryset, act)


class VendorUserInline(admin.TabularInline):
    model = VendorUser
    extra = 0
    autocomplete_fields = ("user",)


class VendorBrandForm(forms.ModelForm):
    logo_url = forms.URLField(max_length=500, required=False, assume_scheme="https")
    support_url = forms.URLField(max_length=500, required=False, assume_scheme="https")
    topup_url = forms.URLField(max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = VendorBrand
        fields = FIELDS

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        try:
            brand_validate(cleaned)
        except DomainError as exc:
            for field, problems in (exc.details or {}).items():
                self.add_error(field, problems)
        return cleaned


class VendorBrandInline(admin.StackedInline):
    """The vendor's brand on its end customers' eSIM pages (vendors set it by API too)."""

    model = VendorBrand
    form = VendorBrandForm
    extra = 0
    max_num = 1
    verbose_name = "brand (white label)"


class VendorAdminForm(forms.ModelForm):
    """The vendor page's form: the low-balance threshold in the vendor's currency."""

    class Meta:
        model = Vendor
        fields = (
            "name",
            "billing_mode",
            "currency",
            "low_balance_threshold",
            "usage_alert_levels",
            "contact_name",
            "contact_email",
            "billing_email",
            "technical_email",
            "phone",
            "country",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "usage_alert_levels" in self.fields:
            self.fields["usage_alert_levels"].required = False
        if "low_balance_threshold" in self.fields:
            currency = self.instance.currency if self.instance.pk else "USD"
            self.fields["low_balance_threshold"] = MinorUnitsField(
                currency=currency,
                min_value=0,
                label="Low-balance alert below",
                help_text="wallet.low_balance fires (and the vendor is emailed) when what a "
                "prepaid vendor can spend falls below this; 0 turns it off.",
            )

    def clean_usage_alert_levels(self) -> list[int]:
        levels = self.cleaned_data.get("usage_alert_levels")
        if levels in (None, ""):  # left out: keep what the vendor has
            return list(self.instance.usage_alert_levels or default_usage_alert_levels())
        if not isinstance(levels, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 100 for v in levels
        ):
            raise forms.ValidationError("A list of whole percentages from 1 to 100, e.g. [50, 80].")
        return sorted(set(levels))


@admin.register(Vendor)
class VendorAdmin(VendorConsoleMixin, LargeTableAdminMixin, SimpleHistoryAdmin, ModelAdmin):
    action_form = VendorActionForm
    form = VendorAdminForm
    actions_detail = VENDOR_CONSOLE_ACTIONS_DETAIL
    actions_row = ("approve_detail",)
    list_display = (
        "name",
        "status_badge",
        "billing_mode",
        "currency",
        "balance_display",
        "credit_limit_display",
        "tier",
        "discount_bps",
        "parent",
        "created_at",
    )
    list_select_related = ("parent",)
    list_filter = ("status", "billing_mode", "tier", SubVendorFilter)
    search_fields = ("name", "contact_email", "billing_email")
    inlines = (VendorUserInline, VendorBrandInline)
    readonly_fields = (
        "status",
        "status_reason",
        "approved_at",
        "credit_limit_display",
        "tier",
        "discount_bps",
        # Recorded through vendors.services.vendor_vat_number_set, which validates it.
        "vat_number",
        "vat_number_valid",
        "parent",
        "markup_bps",
        "sub_vendor_tree_display",
        "created_at",
        "updated_at",
    )
    fields = (
        "name",
        ("status", "status_reason", "approved_at"),
        ("billing_mode", "currency"),
        ("credit_limit_display", "tier", "discount_bps"),
        ("low_balance_threshold", "usage_alert_levels"),
        ("contact_name", "contact_email"),
        ("billing_email", "technical_email", "phone"),
        ("country", "vat_number", "vat_number_valid"),
        ("parent", "markup_bps"),
        "sub_vendor_tree_display",
        ("created_at", "updated_at"),
    )
    actions = (
        "approve",
        "suspend",
        "reactivate",
        "close",
        "change_credit_limit",
        "change_tier",
        "issue_api_key",
    )

    def get_queryset(self, request: HttpRequest) -> Any:
        # Vendors' test environments are theirs to play with, not operators' business.
        return super().get_queryset(request).filter(live_vendor__isnull=True)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(self.readonly_fields)
        # The ledger accounts are per currency and mode: fixed once the vendor exists.
        return (*fields, "billing_mode", "currency") if obj else fields

    @admin.display(description="sub-vendors")
    def sub_vendor_tree_display(self, obj: Vendor) -> str:
        """The tree below this vendor: each sub-vendor indented by its level, with its
        markup, billing and what it can spend (operators see the whole reseller tree)."""
        if obj.pk is None:
            return "-"
        tree = sub_vendor_tree(vendor=obj)
        if not tree:
            return "none"
        base = obj.depth
        rows = []
        for sub in tree:
            balance = vendor_balance(vendor=sub)
            rows.append(
                (
                    "\u2003" * (sub.depth - base - 1),
                    reverse("admin:vendors_vendor_change", args=[sub.pk]),
                    sub.name,
                    sub.markup_bps,
                    sub.billing_mode,
                    str(balance.available),
                    sub.status,
                )
            )
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li>{}<a href="{}">{}</a> (+{} bps, {}, available {}, {})</li>',
                rows,
            ),
        )

    @admin.display(description="credit limit")
    def credit_limit_display(self, obj: Vendor) -> str:
        return str(Money(obj.credit_limit, obj.currency))

    @admin.action(description="Approve (activate) selected vendors", permissions=["approve"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Vendor]) -> None:
        _status_each(self, request, queryset, operator.operator_vendor_approve, "approved")

    @admin.action(description="Suspend selected vendors (reason required)", permissions=["approve"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Vendor]) -> None:
        _status_each(self, request, queryset, operator.operator_vendor_suspend, "suspended")

    @admin.action(description="Reactivate selected suspended vendors", permissions=["approve"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Vendor]) -> None:
        _status_each(self, request, queryset, operator.operator_vendor_reactivate, "reactivated")

    @admin.action(
        description="Close selected vendors (revokes keys; reason required)",
        permissions=["approve"],
    )
    def close(self, request: HttpRequest, queryset: QuerySet[Vendor]) -> None:
        _status_each(self, request, queryset, operator.operator_vendor_close, "closed")

    @admin.action(
        description="Set credit limit (postpaid; amount and reason)", permissions=["credit"]
    )
    def change_credit_limit(self, request: HttpRequest, queryset: QuerySet[Vendor]) -> None:
        raw = request.POST.get("credit_limit", "").strip()
        if not raw:
            messages.error(request, "Enter the new credit limit.")
            return
        reason = _reason(request)

        def set_limit(pk: int) -> str:
            vendor = Vendor.objects.get(pk=pk)
            try:
                limit = Money.from_decimal(raw, vendor.currency)
            except ValueError as exc:
                raise DomainError("validation_error", str(exc)) from None
            operator.operator_vendor_credit_limit(
                vendor_id=pk, actor=request.user, limit=limit, reason=reason
            )
            return f"{vendor}: credit limit set to {limit}."

        run_service_each(self, request, queryset, set_limit)

    @admin.action(description="Change pricing tier (tier and reason)", permissions=["approve"])
    def change_tier(self, request: HttpRequest, queryset: QuerySet[Vendor]) -> None:
        tier = request.POST.get("tier", "")
        reason = _reason(request)
        run_service_each(
            self,
            request,
            queryset,
            lambda pk: (
                f"{operator.operator_vendor_tier(vendor_id=pk, actor=request.user, tier=tier, reason=reason)}: tier {tier}."
            ),
        )

    @admin.action(description="Issue an API key (shown once)", permissions=["keys"])
    def issue_api_key(self, request: HttpRequest, queryset: QuerySet[Vendor]) -> None:
        name = _reason(request) or "issued by an operator"
        for pk in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                api_key, key = operator.operator_api_key_issue(
                    vendor_id=pk, actor=request.user, name=name
                )
            except DomainError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            messages.warning(
                request, f"{api_key.vendor}: new API key (copy it now, it is not stored): {key}"
            )

    def save_model(self, request: HttpRequest, obj: Vendor, form: Any, change: bool) -> None:
        obj._history_user = request.user  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)


class VendorAPIKeyForm(forms.ModelForm):
    class Meta:
        model = VendorAPIKey
        fields = ("vendor", "name", "expiry_date")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "vendor" in self.fields:  # keys are issued to active vendors only
            self.fields["vendor"].queryset = Vendor.objects.filter(  # type: ignore[attr-defined]
                status=Vendor.Status.ACTIVE
            ).order_by("name")


@admin.register(VendorAPIKey)
class VendorAPIKeyAdmin(SimpleHistoryAdmin, ModelAdmin):
    form = VendorAPIKeyForm
    list_display = ("prefix", "name", "vendor", "created", "last_used_at", "expiry_date", "state")
    list_filter = ("revoked",)
    search_fields = ("prefix", "name", "vendor__name")
    autocomplete_fields = ("vendor",)  # not a dropdown of every vendor
    actions = ("revoke",)

    @admin.display(description="state", ordering="revoked")
    def state(self, obj: VendorAPIKey) -> str:
        """Words, not a red cross on every key that is fine."""
        if obj.revoked:
            return "revoked"
        return "expired" if obj.has_expired else "active"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return (
            "prefix",
            "name",
            "vendor",
            "created",
            "last_used_at",
            "expiry_date",
            "revoked",
            "revoked_at",
        )

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("vendor", "name", "expiry_date")
        return self.get_readonly_fields(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the record stays for the audit trail

    def has_keys_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.manage_api_keys"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_keys_permission(request) and super().has_add_permission(request)

    def save_model(self, request: HttpRequest, obj: VendorAPIKey, form: Any, change: bool) -> None:
        if change:
            return  # keys are immutable; revocation is an action
        api_key, key = operator.operator_api_key_issue(
            vendor_id=obj.vendor_id, actor=request.user, name=obj.name, expires_at=obj.expiry_date
        )
        obj.pk = api_key.pk
        obj.prefix = api_key.prefix
        messages.warning(
            request, f"The API key for {obj.vendor} is: {key} — copy it now, it is not stored."
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None

    @admin.action(
        description="Revoke selected keys (effective on the next request)", permissions=["keys"]
    )
    def revoke(self, request: HttpRequest, queryset: QuerySet[VendorAPIKey]) -> None:
        run_service_each(
            self,
            request,
            queryset,
            lambda pk: (
                f"Key {operator.operator_api_key_revoke(api_key_id=pk, actor=request.user).prefix} revoked."
            ),
        )
