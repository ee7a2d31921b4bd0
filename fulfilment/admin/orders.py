"""Orders in the operator console: every order with its items, its eSIMs and its history,
refunds, cancels and re-drives from the order page; the fraud review queue. Here, above
fulfilment, because a full refund takes the order's eSIMs back. (Fraud rules:
fulfilment/admin.py.)

Nothing here changes an order directly: every action calls `orders/operator.py` or
`fulfilment/operator.py` (refunds), which checks the role permission, calls the owning
service and writes the audit row."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action, display

from fulfilment.models import Esim
from fulfilment.operator import operator_order_refund, order_left_to_refund
from orders.fraud.models import OrderReview
from orders.models import Order, OrderEvent, OrderItem
from orders.operator import (
    operator_order_cancel,
    operator_order_redrive,
    operator_review_approve,
    operator_review_reject,
)
from orders.selectors import tax_report_csv
from orders.state import ORDER_STATES
from payments.models import Payment
from ttelgo.admin.console import (
    LargeTableAdminMixin,
    LivemodeColumnMixin,
    MoneyColumnsMixin,
    ReasonForm,
    RecentValuesFieldListFilter,
    change_url,
    operator_form,
    run_service,
    run_service_each,
)
from ttelgo.models import User
from ttelgo.money import Money
from vendors.models import Vendor

S = Order.Status


class OrderItemInline(MoneyColumnsMixin, TabularInline):
    model = OrderItem
    money_fields = {"unit_price": "currency", "unit_cost": "currency"}
    extra = 0
    can_delete = False
    fields = ("bundle_code", "bundle_name", "quantity", "unit_price", "unit_cost", "currency")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OrderEventInline(TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "from_status", "to_status", "actor_label", "reason")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentInline(MoneyColumnsMixin, TabularInline):
    """The card payment behind a customer order, with what was refunded."""

    model = Payment
    money_fields = {"amount": "currency", "refunded_amount": "currency"}
    extra = 0
    can_delete = False
    fields = ("payment_intent_id", "status", "amount", "refunded_amount", "currency", "disputed_at")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EsimInline(TabularInline):
    model = Esim
    extra = 0
    can_delete = False
    fields = ("iccid", "bundle_code", "status", "remaining_mb", "initial_mb")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        required=False,
        min_value=Decimal("0.01"),
        decimal_places=2,
        help_text="Leave empty for a full refund of what is left.",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)

    currency = "USD"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        amount = self.fields["amount"]
        amount.label = f"Amount in {self.currency}"
        amount.help_text = (
            f"In {self.currency}, e.g. 4.50 (not cents). Leave empty for a full refund of what"
            " is left: a full refund revokes the order's unused eSIMs at the provider."
        )


def refund_form_for(currency: str) -> type[RefundForm]:
    """The refund form, its amount labelled in the order's currency."""
    return type("RefundForm", (RefundForm,), {"currency": currency})


def _refund_outcome(order: Order) -> str:
    """What the customer keeps after a refund, in the operator's words."""
    order.refresh_from_db()
    if order.kind == Order.Kind.TOPUP:
        return ""
    esims = list(order.esims.values_list("status", flat=True))
    revoked = sum(1 for status in esims if status == Esim.Status.REVOKED)
    kept = len(esims) - revoked
    if kept == 0 and revoked:
        return f" {revoked} eSIM(s) revoked at the provider: the customer keeps nothing."
    if kept:
        return (
            f" The customer keeps {kept} eSIM(s) and the data left on them"
            " (a partial refund takes nothing back)."
        )
    return ""


class NoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=1000, required=False
    )


class RejectForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=1000)


def _buyer(obj: Order) -> str:
    if obj.customer_id:
        return str(obj.customer.email)  # type: ignore[union-attr]
    return f"vendor: {obj.vendor}" if obj.vendor_id else "-"


def _reasons_html(obj: Order) -> str:
    if not obj.review_reasons:
        return "-"
    return format_html(
        '<ul class="list-disc pl-4" data-testid="review-reasons">{}</ul>',
        format_html_join("", "<li>{}</li>", ((r,) for r in obj.review_reasons)),
    )


def _status(obj: Any) -> str | None:
    """The order's status for a detail action's permission check (unfold passes the id)."""
    if obj is None:
        return None
    if isinstance(obj, Order):
        return obj.status
    return Order.objects.filter(pk=obj).values_list("status", flat=True).first()


ORDER_FIELDSETS = (
    (
        None,
        {
            "fields": (
                ("id", "status", "channel", "kind"),
                ("buyer", "customer", "vendor"),
                ("total_display", "cost_display", "customer_reference"),
                ("created_at", "updated_at", "completed_at"),
            )
        },
    ),
    ("Review", {"fields": ("reasons", "client_ip", "disputed_at")}),
    (
        "Provisioning",
        {
            "fields": (
                ("provider", "provider_reference", "target_iccid"),
                ("provider_route", "providers_sent"),
                ("provisioning_attempts", "provisioning_lease_until", "escalated_at"),
                "failure_reason",
            )
        },
    ),
)


# A term of this many digits is an ICCID (or a number of one); fewer, an order id.
ICCID_MIN_DIGITS = 15
# A free-text term matches orders of at most this many vendors by name.
VENDORS_MATCHED = 50
# Rows that point at orders (eSIMs) match at most this many of the newest matching orders.
ORDERS_MATCHED = 1000


def order_search(term: str) -> Q:
    """What an operator's search term means, as a condition on orders every branch of which
    an index answers: an order id, an
    ICCID (the order's eSIM or a top-up's target), a Stripe PaymentIntent, a customer's
    email, a vendor's or provider's exact reference, or part of a vendor's name. No
    substring scan over the orders themselves: at a million orders that took seconds."""
    # The rows that point at an order are looked up first and their ids inlined: an OR
    # with a subquery would make PostgreSQL scan the orders to test each one.
    term = term.strip()
    q = Q(customer_reference=term)
    if term.isdigit() and len(term) >= ICCID_MIN_DIGITS:
        esims = list(Esim.objects.filter(iccid=term).values_list("order_id", flat=True))
        return q | Q(id__in=esims) | Q(target_iccid=term)
    if term.isdigit():
        return q | Q(id=int(term))
    if term.startswith("pi_"):
        intents = Payment.objects.filter(payment_intent_id=term, order_id__isnull=False)
        return q | Q(id__in=list(intents.values_list("order_id", flat=True)))
    if "@" in term:
        customers = User.objects.filter(email=term.lower()).values_list("pk", flat=True)
        return q | Q(customer_id__in=list(customers))
    vendors = list(
        Vendor.objects.filter(name__icontains=term).values_list("pk", flat=True)[:VENDORS_MATCHED]
    )
    return q | Q(provider_reference=term) | Q(vendor_id__in=vendors)


class OrderSearchMixin:
    """The order search (`order_search`) for a list of orders, or of rows that point at
    one through `order_search_via` (then also matching `search_own(term)`)."""

    order_search_via = ""
    search_help_text = (
        "An order id, ICCID, PaymentIntent id (pi_...), customer email, vendor or provider"
        " reference, or part of a vendor's name."
    )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if not self.order_search_via:
            return queryset.filter(order_search(term)), False
        # The matching orders first (an OR with a subquery would scan this table); a
        # term that matches more orders than a page can show lists the newest of them.
        orders = Order.objects.filter(order_search(term)).order_by("-id")
        ids = list(orders.values_list("id", flat=True)[:ORDERS_MATCHED])
        via = Q(**{f"{self.order_search_via}__in": ids})
        return queryset.filter(via | self.search_own(term)), False

    def search_own(self, term: str) -> Q:
        return Q(pk__in=[])


def _order_may(action: str, obj: Any) -> bool:
    """Whether the state table lets `action` start from this order's status (no order: a
    changelist, where the action shows)."""
    status = _status(obj)
    return status is None or ORDER_STATES.may(action, status)


class OrderActionsMixin:
    """Detail actions shared by the order page and the review queue. On an order page each
    shows only when the role may use it and the order's state allows it (the services
    check both again)."""

    def has_refund_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = request.user.has_perm("ttelgo.refund_small") or request.user.has_perm(
            "ttelgo.refund_any"
        )
        return bool(allowed) and _order_may("refund", obj)

    def has_cancel_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = request.user.has_perm("ttelgo.cancel_orders")
        return bool(allowed) and _order_may("cancel", obj)

    def has_redrive_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = request.user.has_perm("ttelgo.redrive_orders")
        return bool(allowed) and _order_may("redrive", obj)

    def has_review_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        allowed = request.user.has_perm("ttelgo.review_orders")
        return bool(allowed) and _order_may("review", obj)

    @display(description="total", ordering="total")
    def total_display(self, obj: Order) -> str:
        return str(Money(obj.total, obj.currency))

    @display(description="wholesale cost")
    def cost_display(self, obj: Order) -> str:
        return str(obj.cost)

    @display(description="buyer")
    def buyer(self, obj: Order) -> str:
        return _buyer(obj)

    @display(description="held because")
    def reasons(self, obj: Order) -> str:
        return _reasons_html(obj)

    def _summary(self, order: Order) -> list[tuple[str, Any]]:
        return [
            ("Buyer", _buyer(order)),
            ("Status", order.status),
            ("Total", Money(order.total, order.currency)),
            ("Items", ", ".join(str(i) for i in order.items.all())),
        ]

    @action(description="Refund", url_path="refund", permissions=["refund"], icon="undo")
    def refund_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = Order.objects.get(pk=object_id)

        def perform(form: forms.Form) -> str:
            value = form.cleaned_data.get("amount")
            amount = None if value is None else Money.from_decimal(value, order.currency)
            refund = operator_order_refund(
                order_id=order.pk,
                actor=request.user,
                amount=amount,
                reason=form.cleaned_data["reason"],
            )
            refunded = Money(refund.amount, refund.currency)
            return f"Refunded {refunded} ({refund.status}).{_refund_outcome(order)}"

        def confirm(form: forms.Form) -> str:
            value = form.cleaned_data.get("amount")
            if value is None:
                return (
                    f"Refund everything that is left of order {order.pk} to the "
                    f"{'vendor account' if order.vendor_id else 'card'}? Its unused eSIMs "
                    "will be revoked at the provider."
                )
            amount = Money.from_decimal(value, order.currency)
            return (
                f"Refund {amount} of order {order.pk} to the "
                f"{'vendor account' if order.vendor_id else 'card'}? The customer keeps the "
                "eSIMs."
            )

        left = order_left_to_refund(order=order)
        return operator_form(
            request,
            model_admin=self,  # type: ignore[arg-type]
            obj=order,
            form_class=refund_form_for(order.currency),
            title=f"Refund order {order.pk}",
            submit_label="Refund",
            perform=perform,
            summary=[
                *self._summary(order),
                ("Left to refund", left if left is not None else "nothing was charged"),
            ],
            confirm=confirm,
        )

    @action(description="Cancel", url_path="cancel", permissions=["cancel"], icon="cancel")
    def cancel_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = Order.objects.get(pk=object_id)

        def perform(form: forms.Form) -> str:
            operator_order_cancel(
                order_id=order.pk, actor=request.user, reason=form.cleaned_data["reason"]
            )
            return f"Order {order.pk} cancelled."

        return operator_form(
            request,
            model_admin=self,  # type: ignore[arg-type]
            obj=order,
            form_class=ReasonForm,
            title=f"Cancel order {order.pk}",
            submit_label="Cancel the order",
            perform=perform,
            summary=self._summary(order),
        )

    @action(
        description="Re-drive provisioning",
        url_path="redrive",
        permissions=["redrive"],
        icon="replay",
    )
    def redrive_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        run_service(
            self,  # type: ignore[arg-type]
            request,
            lambda: (
                f"Order {operator_order_redrive(order_id=int(object_id), actor=request.user, reason='re-driven from the order page').pk} queued for provisioning."
            ),
        )
        return HttpResponseRedirect(change_url(Order.objects.get(pk=object_id)))

    @action(description="Approve", url_path="approve", permissions=["review"], icon="check_circle")
    def approve_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = Order.objects.get(pk=object_id)

        def perform(form: forms.Form) -> str:
            operator_review_approve(
                order_id=order.pk, actor=request.user, note=form.cleaned_data["note"]
            )
            return f"Order {order.pk} approved: provisioning."

        return operator_form(
            request,
            model_admin=self,  # type: ignore[arg-type]
            obj=order,
            form_class=NoteForm,
            title=f"Approve order {order.pk}",
            submit_label="Approve",
            perform=perform,
            summary=[*self._summary(order), ("Held because", _reasons_html(order))],
        )

    @action(description="Reject", url_path="reject", permissions=["review"], icon="block")
    def reject_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        order = Order.objects.get(pk=object_id)

        def perform(form: forms.Form) -> str:
            done = operator_review_reject(
                order_id=order.pk, actor=request.user, note=form.cleaned_data["note"]
            )
            money = "refunded" if done.channel == Order.Channel.B2C else "reservation released"
            return f"Order {order.pk} rejected: {money}."

        return operator_form(
            request,
            model_admin=self,  # type: ignore[arg-type]
            obj=order,
            form_class=RejectForm,
            title=f"Reject order {order.pk}",
            submit_label="Reject",
            perform=perform,
            summary=[*self._summary(order), ("Held because", _reasons_html(order))],
        )


class ReadOnlyOrderAdmin(LargeTableAdminMixin, OrderActionsMixin, ModelAdmin):
    """What the order page and the review queue share: the order read-only, with its
    items, payment, eSIMs and history."""

    list_select_related = ("customer", "vendor")
    readonly_fields = [f.name for f in Order._meta.fields] + [
        "reasons",
        "buyer",
        "total_display",
        "cost_display",
    ]
    fieldsets = ORDER_FIELDSETS
    inlines = [OrderItemInline, PaymentInline, EsimInline, OrderEventInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # orders change only through the actions


class TaxReportForm(forms.Form):
    start = forms.DateField(
        label="From (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))

    @staticmethod
    def last_month() -> dict[str, date]:
        first_this = timezone.localdate().replace(day=1)
        last = first_this - timedelta(days=1)
        return {"start": last.replace(day=1), "end": last}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError("The period ends before it starts.")
        return data


@admin.register(Order)
class OrderAdmin(LivemodeColumnMixin, OrderSearchMixin, ReadOnlyOrderAdmin):
    list_display = (
        "id",
        "channel",
        "kind",
        "buyer",
        "status_badge",
        "total_display",
        "mode",
        "created_at",
    )
    list_filter = (
        "status",
        "channel",
        "kind",
        "livemode",
        ("currency", RecentValuesFieldListFilter),
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = (
        "=id",
        "customer__email",
        "vendor__name",
        "provider_reference",
        "customer_reference",
        # an ICCID or PaymentIntent id pasted from a support ticket or Stripe
        "=esims__iccid",
        "=target_iccid",
        "=payments__payment_intent_id",
    )
    actions_detail = [
        "refund_detail",
        "cancel_detail",
        "redrive_detail",
        "approve_detail",
        "reject_detail",
    ]
    actions = ["redrive_selected"]
    actions_list = ["tax_report"]

    def has_reconcile_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.run_reconciliation"))

    @action(
        description="Tax report (CSV)",
        url_path="tax-report",
        permissions=["reconcile"],
        icon="download",
    )
    def tax_report(self, request: HttpRequest) -> HttpResponse:
        """Live sales per VAT country and treatment for a period, as CSV: the form asks
        for the period (last month by default) and sends the operator to the download."""
        if "start" in request.GET:
            form = TaxReportForm(request.GET)
            if form.is_valid():
                start, end = form.cleaned_data["start"], form.cleaned_data["end"]
                body = tax_report_csv(start=start, end=end + timedelta(days=1))
                response = HttpResponse(body, content_type="text/csv")
                response["Content-Disposition"] = (
                    f'attachment; filename="tax-report-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
                )
                return response

        def perform(form: forms.Form) -> tuple[str, str]:
            start, end = form.cleaned_data["start"], form.cleaned_data["end"]
            return (
                f"Tax report {start} to {end} downloaded.",
                f"?start={start.isoformat()}&end={end.isoformat()}",
            )

        return operator_form(
            request,
            model_admin=self,
            obj=None,
            form_class=TaxReportForm,
            title="Tax report",
            submit_label="Download CSV",
            perform=perform,
            initial=TaxReportForm.last_month(),
            summary=[("Rows", "live sales per VAT country, treatment and currency")],
        )

    @display(
        description="status",
        ordering="status",
        label={
            "completed": "success",
            "failed": "danger",
            "in_review": "warning",
            "refunded": "info",
        },
    )
    def status_badge(self, obj: Order) -> str:
        return obj.status

    @action(description="Re-drive provisioning of the selected orders", permissions=["redrive"])
    def redrive_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        def redrive(pk: int) -> str:
            operator_order_redrive(order_id=pk, actor=request.user)
            return f"Order {pk} re-driven."

        run_service_each(self, request, queryset, redrive)


@admin.register(OrderReview)
class OrderReviewAdmin(OrderSearchMixin, ReadOnlyOrderAdmin):
    """The fraud review queue: orders held in `in_review`, oldest first, with the reasons."""

    list_display = ("id", "buyer", "total_display", "reasons", "created_at")
    list_filter = ("channel",)
    search_fields = ("=id", "customer__email", "vendor__name")
    ordering = ("created_at", "id")
    actions_detail = ["approve_detail", "reject_detail"]
    actions_row = ["approve_detail", "reject_detail"]
    actions = ["approve_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(status=S.IN_REVIEW)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("orders.view_order"))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("orders.view_order"))

    @action(description="Approve the selected orders", permissions=["review"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        def approve(pk: int) -> str:
            operator_review_approve(order_id=pk, actor=request.user, note="approved in bulk")
            return f"Order {pk} approved."

        run_service_each(self, request, queryset, approve)
