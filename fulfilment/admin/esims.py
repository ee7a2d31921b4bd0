"""eSIMs, eSIM refund requests and provider refunds in the operator console. Approving or
rejecting a refund request calls `fulfilment/refunds.py`, which checks the role
permission, does the work and writes the audit row."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from unfold.admin import ModelAdmin
from unfold.decorators import action

from fulfilment.admin.orders import NoteForm, OrderSearchMixin, RejectForm
from fulfilment.models import Esim, EsimRefund, ProviderRefund
from fulfilment.provider_refunds import operator_provider_credit_match
from fulfilment.refunds import operator_esim_refund_approve, operator_esim_refund_reject
from fulfilment.state import ESIM_REFUND_STATES
from ttelgo.admin.console import (
    LargeTableAdminMixin,
    LivemodeColumnMixin,
    MoneyColumnsMixin,
    ReadOnlyAdminMixin,
    money_text,
    operator_form,
)


@admin.register(Esim)
class EsimAdmin(
    LivemodeColumnMixin, OrderSearchMixin, LargeTableAdminMixin, ReadOnlyAdminMixin, ModelAdmin
):
    """Delivered eSIMs: read-only (they change through provisioning, top-ups and usage)."""

    list_display = (
        "iccid",
        "order",
        "bundle_code",
        "status",
        "remaining_mb",
        "initial_mb",
        "mode",
    )
    list_filter = ("status", "livemode")
    search_fields = ("=iccid", "=order__id", "order__customer__email", "order__vendor__name")
    list_select_related = ("order",)
    readonly_fields = [f.name for f in Esim._meta.fields]
    order_search_via = "order"

    def search_own(self, term: str) -> Q:
        return Q(iccid=term)


@admin.register(EsimRefund)
class EsimRefundAdmin(MoneyColumnsMixin, ReadOnlyAdminMixin, ModelAdmin):
    """Refunds of unused eSIMs that customers and vendors asked for; those held for review
    (a disputed order) are refunded or rejected here."""

    money_fields = {"amount": "currency"}
    list_display = ("id", "esim", "order", "amount", "status", "requested_by", "created_at")
    list_filter = ("status",)
    search_fields = ("=esim__iccid", "=order__id", "requested_by")
    list_select_related = ("esim", "order")
    readonly_fields = [f.name for f in EsimRefund._meta.fields]
    actions_detail = ("approve_detail", "reject_detail")

    def has_review_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """An operator who may refund anything, on a request the refund table lets them
        review (`in_review`): one refunded or rejected already shows no actions."""
        if not request.user.has_perm("ttelgo.refund_any"):
            return False
        if obj is None:
            return True
        pk = obj.pk if isinstance(obj, EsimRefund) else obj
        status = EsimRefund.objects.filter(pk=pk).values_list("status", flat=True).first()
        return status is None or ESIM_REFUND_STATES.may("review", status)

    def _summary(self, refund: EsimRefund) -> list[tuple[str, Any]]:
        return [
            ("eSIM", refund.esim.iccid),
            ("Order", refund.order_id),
            ("Amount", money_text(refund.amount, refund.currency)),
            ("Asked by", refund.requested_by),
            ("Reason", refund.reason),
        ]

    @action(description="Refund", url_path="approve", permissions=["review"], icon="undo")
    def approve_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        refund = EsimRefund.objects.get(pk=object_id)

        def perform(form: forms.Form) -> str:
            done = operator_esim_refund_approve(
                refund_id=refund.pk, actor=request.user, note=form.cleaned_data["note"]
            )
            return f"eSIM {done.esim.iccid} revoked and {money_text(done.amount, done.currency)} refunded."

        return operator_form(
            request,
            model_admin=self,  # type: ignore[arg-type]
            obj=refund,
            form_class=NoteForm,
            title=f"Refund eSIM {refund.esim.iccid}",
            submit_label="Refund",
            perform=perform,
            summary=self._summary(refund),
            confirm=lambda form: (
                f"Revoke eSIM {refund.esim.iccid} and refund "
                f"{money_text(refund.amount, refund.currency)}?"
            ),
        )

    @action(description="Reject", url_path="reject", permissions=["review"], icon="block")
    def reject_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        refund = EsimRefund.objects.get(pk=object_id)

        def perform(form: forms.Form) -> str:
            operator_esim_refund_reject(
                refund_id=refund.pk, actor=request.user, note=form.cleaned_data["note"]
            )
            return f"Refund of eSIM {refund.esim.iccid} rejected."

        return operator_form(
            request,
            model_admin=self,  # type: ignore[arg-type]
            obj=refund,
            form_class=RejectForm,
            title=f"Reject the refund of eSIM {refund.esim.iccid}",
            submit_label="Reject",
            perform=perform,
            summary=self._summary(refund),
        )


class CreditForm(forms.Form):
    reference = forms.CharField(
        max_length=100, help_text="the provider's refund id or credit note for this credit"
    )


@admin.register(ProviderRefund)
class ProviderRefundAdmin(MoneyColumnsMixin, ReadOnlyAdminMixin, ModelAdmin):
    """What the provider owes us for bundles it took back: pending until the provider
    shows the bundle revoked (checked hourly), then received."""

    money_fields = {"amount": "currency"}
    list_display = (
        "id",
        "iccid",
        "bundle_code",
        "order",
        "provider",
        "amount",
        "status",
        "credit_reference",
        "created_at",
    )
    list_filter = ("status", "provider")
    actions_detail = ("credit_detail",)

    def has_credit_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.run_reconciliation"))

    @action(
        description="Credit received", url_path="credit", permissions=["credit"], icon="savings"
    )
    def credit_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Airalo paid this refund back in credit: match the credit, the receivable clears."""
        refund = ProviderRefund.objects.get(pk=object_id)

        def perform(form: forms.Form) -> str:
            reference = form.cleaned_data["reference"]
            operator_provider_credit_match(
                refund_id=refund.pk, actor=request.user, reference=reference
            )
            return f"Credit {reference} matched: refund {refund.pk} received."

        return operator_form(
            request,
            model_admin=self,  # type: ignore[arg-type]
            obj=refund,
            form_class=CreditForm,
            title=f"Credit received for the refund of {refund.iccid}",
            submit_label="Match the credit",
            perform=perform,
            summary=[
                ("Provider", refund.provider),
                ("Amount", refund.money),
                ("Status", refund.status),
            ],
        )

    search_fields = ("=iccid", "=order__id", "bundle_code")
    list_select_related = ("order",)
    readonly_fields = [f.name for f in ProviderRefund._meta.fields]
