"""Operators' screens: payments with their refunds (and a refund action), and the stored
inbound webhook events with a reprocess action."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action
from unfold.forms import BaseDialogForm

from payments.models import Payment, Refund
from payments.operator import operator_payment_refund
from ttelgo.errors import DomainError
from ttelgo.money import Money
from webhooks.models import InboundEvent
from webhooks.operator import operator_inbound_reprocess


class RefundInline(TabularInline):
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
class PaymentAdmin(ModelAdmin):
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
    list_filter = ("kind", "status", "currency")
    search_fields = ("payment_intent_id", "=order__id", "vendor__name")
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


@admin.register(InboundEvent)
class InboundEventAdmin(ModelAdmin):
    list_display = ("event_id", "source", "event_type", "status", "attempts", "received_at")
    list_filter = ("source", "status", "event_type")
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
