"""Fraud rules and the fraud threshold in the operator console. (The review queue and
the order page, whose actions may take eSIMs back, are fulfilment's admin:
fulfilment/admin/orders.py.)"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from unfold.admin import ModelAdmin
from unfold.decorators import display

from orders.fraud.models import FraudRule, FraudSettings
from ttelgo.admin.console import (
    money_text,
)
from ttelgo.audit import audit_record
from ttelgo.money import Money


class FraudAdminMixin:
    """Fraud configuration: everyone may look; `ttelgo.edit_fraud_rules` may change it, and
    every change is audited."""

    def _may_edit(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("ttelgo.edit_fraud_rules"))

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._may_edit(request) and super().has_add_permission(request, *args)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_edit(request) and super().has_delete_permission(request, obj)  # type: ignore[misc]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = {f: form.initial.get(f) for f in form.changed_data} if change else None
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        audit_record(
            actor=request.user,
            action=f"fraud.{obj._meta.model_name}_{'change' if change else 'add'}",
            target=obj,
            before=before,
            after={f: form.cleaned_data.get(f) for f in form.changed_data},
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        audit_record(
            actor=request.user,
            action=f"fraud.{obj._meta.model_name}_delete",
            target=obj,
            before={"name": str(obj)},
        )
        super().delete_model(request, obj)  # type: ignore[misc]


class FraudRuleForm(forms.ModelForm):
    """`limit` is a count for most rules and an amount for the first-order rule, entered
    in major units of the rule's currency (125.00, not 12500)."""

    limit = forms.DecimalField(
        min_value=0,
        decimal_places=3,
        help_text="Orders, eSIMs or disputes for counting rules; for the first-order rule an "
        "amount in its currency, e.g. 125.00.",
    )

    class Meta:
        model = FraudRule
        fields = ("name", "kind", "window", "limit", "currency", "countries", "score", "enabled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rule = self.instance
        if rule.pk and rule.kind == FraudRule.Kind.FIRST_ORDER_AMOUNT and rule.currency:
            self.initial["limit"] = Money(rule.limit, rule.currency).to_decimal()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        limit = data.get("limit")
        if limit is None:
            return data
        if data.get("kind") == FraudRule.Kind.FIRST_ORDER_AMOUNT:
            try:
                data["limit"] = Money.from_decimal(limit, data.get("currency") or "USD").amount
            except ValueError as exc:
                self.add_error("limit", str(exc))
        elif limit != limit.to_integral_value():
            self.add_error("limit", "A count is a whole number.")
        else:
            data["limit"] = int(limit)
        return data


@admin.register(FraudRule)
class FraudRuleAdmin(FraudAdminMixin, ModelAdmin):
    form = FraudRuleForm
    list_display = ("name", "kind", "window", "limit_display", "countries", "score", "enabled")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "countries")
    fields = ("name", "kind", "window", "limit", "currency", "countries", "score", "enabled")

    @display(description="limit", ordering="limit")
    def limit_display(self, obj: FraudRule) -> str:
        if obj.kind == FraudRule.Kind.FIRST_ORDER_AMOUNT and obj.currency:
            return money_text(obj.limit, obj.currency)
        return str(obj.limit)


@admin.register(FraudSettings)
class FraudSettingsAdmin(FraudAdminMixin, ModelAdmin):
    list_display = ("__str__", "review_threshold", "updated_at")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not FraudSettings.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
