"""Operators' screens for payments with their refunds and a refund action. It lives in the
console because a refund of an order's payment follows the order's refund rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action
from unfold.forms import BaseDialogForm

from console.operator import operator_payment_refund
from payments.models import Payment, Refund
from ttelgo.admin.console import (
    LargeTableAdminMixin,
    MoneyColumnsMixin,
    RecentValuesFieldListFilter,
)
from ttelgo.errors import DomainError
from ttelgo.money import Money


class RefundInline(MoneyColumnsMixin, TabularInline):
    money_fields = {"amount": "currency"}
    model = Refund
    extra = 0
    can_delete = False
    fields = ("id", "amount", "currency", "status", "gateway_refund_id", "reason", "actor")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RefundForm(BaseDialogForm):
    amount = forms.DecimalField(
        required=False,
        min_value=Decimal("0.01"),
        help_text="Leave empty to refund everything that is left.",
    )
    reason = forms.CharField(max_length=500)


@admin.register(Payment)
class PaymentAdmin(LargeTableAdminMixin, MoneyColumnsMixin, ModelAdmin):
    money_fields = {"amount": "currency", "refunded_amount": "currency"}
    list_display = (
        "payment_intent_id",
        "kind",
        "status",
        "amount_display",
        "refunded_display",
        "order",
        "vendor",
        "created_at",
    )
    list_filter = ("kind", "status", ("currency", RecentValuesFieldListFilter))
    search_fields = ("payment_intent_id", "=order__id", "vendor__name")
    list_select_related = ("order", "vendor")
    readonly_fields = [f.name for f in Payment._meta.fields]
    inlines = [RefundInline]
    actions_detail = ["refund_detail"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="amount")
    def amount_display(self, obj: Payment) -> str:
        return str(Money(obj.amount, obj.currency))

    @admin.display(description="refunded")
    def refunded_display(self, obj: Payment) -> str:
        return str(Money(obj.refunded_amount, obj.currency))

    def has_refund_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(
            request.user.has_perm("ttelgo.refund_small")
            or request.user.has_perm("ttelgo.refund_any")
        )

    @action(
        description="Refund",
        url_path="refund",
        permissions=["refund"],
        dialog={
            "title": "Refund this payment",
            "description": "Full (leave the amount empty) or partial, with a reason.",
            "form_class": RefundForm,
            "form_submit_text": "Refund",
        },
    )
    def refund_detail(self, request: HttpRequest, form: RefundForm, object_id: str) -> HttpResponse:
        payment = Payment.objects.get(pk=object_id)
        value = form.cleaned_data.get("amount")
        amount = None if value is None else Money.from_decimal(value, payment.currency)
        try:
            # Role limits and the audit row live in the operator service.
            refund = operator_payment_refund(
                payment_id=payment.pk,
                amount=amount,
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except (DomainError, ValueError) as exc:
            self.message_user(request, f"Refund refused: {exc}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Refunded {Money(refund.amount, refund.currency)} ({refund.status}).",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[object_id]))
