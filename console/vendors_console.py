"""Vendor screens of the operator console: the approval queue, approve/suspend/reactivate
with a reason (the vendor is emailed), credit-limit and wallet-adjustment forms. Every
action calls `vendors/operator.py` (role check, service, audit)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from unfold.decorators import action, display

from billing.operator import operator_vendor_adjust
from billing.selectors import vendor_balance, vendor_balances
from ttelgo.admin.console import ReasonForm, operator_form
from ttelgo.money import Money
from vendors.models import Vendor
from vendors.operator import (
    operator_vendor_approve,
    operator_vendor_credit_limit,
    operator_vendor_reactivate,
    operator_vendor_suspend,
)
from vendors.services import VENDOR_STATES


class CreditLimitForm(forms.Form):
    credit_limit = forms.DecimalField(min_value=Decimal("0"), decimal_places=2)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


class AdjustmentForm(forms.Form):
    amount = forms.DecimalField(decimal_places=2)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)

    currency = "USD"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Amount in {self.currency}"
        self.fields["amount"].help_text = (
            f"In {self.currency}, e.g. 25.00 (not cents). Positive credits the vendor, "
            "negative debits them."
        )

    def clean_amount(self) -> Decimal:
        value: Decimal = self.cleaned_data["amount"]
        if value == 0:
            raise forms.ValidationError("An adjustment cannot be zero.")
        return value


def _balance(vendor: Vendor) -> str:
    b = vendor_balance(vendor=vendor)
    return f"balance {b.balance}, reserved {b.reserved}, available {b.available}"


class VendorConsoleMixin:
    """Detail and row actions; mixed into the vendors app's VendorAdmin."""

    def has_approve_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.approve_vendors"))

    def has_credit_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.change_credit_limit"))

    def has_adjust_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.adjust_wallet"))

    def has_keys_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.manage_api_keys"))

    # Detail actions show on a vendor's page only when its state allows them.
    def _vendor_row(self, obj: Any) -> dict[str, Any] | None:
        if isinstance(obj, Vendor):
            return {"status": obj.status, "billing_mode": obj.billing_mode}
        row = Vendor.objects.filter(pk=obj).values("status", "billing_mode").first()
        return dict(row) if row is not None else None

    def _vendor_may(self, obj: Any, action: str) -> bool:
        """Whether the vendor state table lets `action` start here (no vendor: the list)."""
        if obj is None:
            return True
        row = self._vendor_row(obj)
        return row is not None and VENDOR_STATES.may(action, row["status"])

    def has_approve_pending_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_approve_permission(request) and self._vendor_may(obj, "approve")

    def has_suspend_active_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_approve_permission(request) and self._vendor_may(obj, "suspend")

    def has_reactivate_suspended_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_approve_permission(request) and self._vendor_may(obj, "reactivate")

    def has_credit_postpaid_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return self.has_credit_permission(request)
        row = self._vendor_row(obj)
        return (
            self.has_credit_permission(request)
            and row is not None
            and row["billing_mode"] == Vendor.BillingMode.POSTPAID
        )

    def _summary(self, vendor: Vendor) -> list[tuple[str, Any]]:
        return [
            ("Status", vendor.status),
            ("Billing", f"{vendor.billing_mode} in {vendor.currency}"),
            ("Contact", vendor.contact_email or "-"),
            ("Country", vendor.country or "-"),
            ("Credit limit", Money(vendor.credit_limit, vendor.currency)),
            ("Ledger", _balance(vendor)),
        ]

    def _form(
        self,
        request: HttpRequest,
        object_id: str,
        *,
        form_class: type[forms.Form],
        title: str,
        submit: str,
        perform: Any,
        initial: dict[str, Any] | None = None,
        confirm: Any = None,
    ) -> HttpResponse:
        vendor = Vendor.objects.get(pk=object_id)
        return operator_form(
            request,
            model_admin=self,  # type: ignore[arg-type]
            obj=vendor,
            form_class=form_class,
            title=f"{title}: {vendor.name}",
            submit_label=submit,
            perform=lambda form: perform(vendor, form),
            summary=self._summary(vendor),
            initial=initial,
            confirm=(lambda form: confirm(vendor, form)) if confirm else None,
        )

    def _status_form(
        self,
        request: HttpRequest,
        object_id: str,
        *,
        change: Callable[..., Vendor],
        form_class: type[forms.Form],
        verb: str,
        done: str,
    ) -> HttpResponse:
        """Approve, suspend or reactivate: the status service with the operator's reason;
        the service emails the vendor."""

        def perform(vendor: Vendor, form: forms.Form) -> str:
            change(vendor_id=vendor.pk, actor=request.user, reason=form.cleaned_data["reason"])
            return f"{vendor.name} {done}; the vendor was emailed."

        return self._form(
            request, object_id, form_class=form_class, title=verb, submit=verb, perform=perform
        )

    @action(
        description="Approve", url_path="approve", permissions=["approve_pending"], icon="verified"
    )
    def approve_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._status_form(
            request,
            object_id,
            change=operator_vendor_approve,
            form_class=ReasonForm,
            verb="Approve",
            done="approved",
        )

    @action(
        description="Suspend",
        url_path="suspend",
        permissions=["suspend_active"],
        icon="pause_circle",
    )
    def suspend_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._status_form(
            request,
            object_id,
            change=operator_vendor_suspend,
            form_class=ReasonForm,
            verb="Suspend",
            done="suspended",
        )

    @action(
        description="Reactivate",
        url_path="reactivate",
        permissions=["reactivate_suspended"],
        icon="play_circle",
    )
    def reactivate_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._status_form(
            request,
            object_id,
            change=operator_vendor_reactivate,
            form_class=ReasonForm,
            verb="Reactivate",
            done="reactivated",
        )

    @action(
        description="Change credit limit",
        url_path="credit-limit",
        permissions=["credit_postpaid"],
        icon="credit_score",
    )
    def credit_limit_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def perform(vendor: Vendor, form: forms.Form) -> str:
            limit = Money.from_decimal(form.cleaned_data["credit_limit"], vendor.currency)
            operator_vendor_credit_limit(
                vendor_id=vendor.pk,
                actor=request.user,
                limit=limit,
                reason=form.cleaned_data["reason"],
            )
            return f"{vendor.name}: credit limit is now {limit}."

        vendor = Vendor.objects.get(pk=object_id)
        return self._form(
            request,
            object_id,
            form_class=CreditLimitForm,
            title="Change credit limit",
            submit="Save the limit",
            perform=perform,
            initial={"credit_limit": Money(vendor.credit_limit, vendor.currency).to_decimal()},
        )

    @action(
        description="Adjust balance",
        url_path="adjust",
        permissions=["adjust"],
        icon="account_balance_wallet",
    )
    def adjust_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        vendor_currency = Vendor.objects.values_list("currency", flat=True).get(pk=object_id)

        def perform(vendor: Vendor, form: forms.Form) -> str:
            amount = Money.from_decimal(form.cleaned_data["amount"], vendor.currency)
            operator_vendor_adjust(
                vendor_id=vendor.pk,
                actor=request.user,
                amount=amount,
                reason=form.cleaned_data["reason"],
            )
            return f"{vendor.name}: adjusted by {amount}; {_balance(vendor)}."

        def confirm(vendor: Vendor, form: forms.Form) -> str:
            amount = Money.from_decimal(form.cleaned_data["amount"], vendor.currency)
            if amount.amount > 0:
                return f"Credit {vendor.name} with {amount}?"
            return f"Debit {vendor.name} by {-amount}?"

        return self._form(
            request,
            object_id,
            form_class=type("AdjustmentForm", (AdjustmentForm,), {"currency": vendor_currency}),
            title="Adjust balance",
            submit="Post the adjustment",
            perform=perform,
            confirm=confirm,
        )

    @display(
        description="status",
        ordering="status",
        label={
            "pending": "warning",
            "active": "success",
            "suspended": "danger",
            "closed": "info",
        },
    )
    def status_badge(self, obj: Vendor) -> str:
        return obj.status

    @display(description="balance")
    def balance_display(self, obj: Vendor) -> str:
        known = getattr(obj, "console_balance", None)
        return str((known or vendor_balance(vendor=obj)).balance)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> Any:
        """The list reads the balances of the page's vendors in one query, not one each."""
        base = super().get_changelist(request, **kwargs)  # type: ignore[misc]

        class VendorChangeList(base):  # type: ignore[misc, valid-type]
            def get_results(self, request: HttpRequest) -> None:
                super().get_results(request)
                balances = vendor_balances(vendors=list(self.result_list))
                for vendor in self.result_list:
                    vendor.console_balance = balances[vendor.pk]

        return VendorChangeList


VENDOR_CONSOLE_ACTIONS_DETAIL = [
    "approve_detail",
    "suspend_detail",
    "reactivate_detail",
    "credit_limit_detail",
    "adjust_detail",
]
