"""Ledger admin: read-only money, a trial balance, invoices with downloads and settlement.

Nothing here writes money directly: the settle action calls `invoice_settle`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline

from ledger import invoice_render
from ledger.models import Account, Entry, Hold, Invoice, InvoiceLine, Transaction
from ledger.selectors import account_balance, trial_balance
from ttelgo.admin_console import ReadOnlyAdminMixin
from ttelgo.errors import DomainError
from ttelgo.money import Money


def _money(amount: int | None, currency: str) -> str:
    return "" if amount is None else str(Money(amount, currency))


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("__str__", "type", "normal", "balance_display", "held_display", "bounds")
    list_filter = ("owner", "purpose", "currency", "type")
    search_fields = ("vendor__name", "purpose")
    list_select_related = ("vendor",)

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, obj: Account) -> str:
        if obj.balance is None:  # a platform account: the sum of its entries
            return str(account_balance(account=obj))
        return _money(obj.balance, obj.currency)

    @admin.display(description="held", ordering="held")
    def held_display(self, obj: Account) -> str:
        return _money(obj.held, obj.currency)

    @admin.display(description="floor / ceiling")
    def bounds(self, obj: Account) -> str:
        return (
            f"{_money(obj.floor, obj.currency) or '-'} / {_money(obj.ceiling, obj.currency) or '-'}"
        )

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "trial-balance/",
                self.admin_site.admin_view(self.trial_balance_view),
                name="ledger_trial_balance",
            )
        ]
        return extra + super().get_urls()

    def trial_balance_view(self, request: HttpRequest) -> HttpResponse:
        tb = trial_balance()
        context = {
            **self.admin_site.each_context(request),
            "title": "Trial balance",
            "rows": [
                {
                    "account": str(r.account),
                    "type": r.account.type,
                    "debit": _money(r.debit, r.account.currency) if r.debit else "",
                    "credit": _money(r.credit, r.account.currency) if r.credit else "",
                }
                for r in tb.rows
            ],
            "totals": [
                {"currency": cur, "debit": _money(d, cur), "credit": _money(c, cur)}
                for cur, (d, c) in tb.totals.items()
            ],
            "balanced": tb.balanced,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/ledger/trial_balance.html", context)


class EntryInline(ReadOnlyAdminMixin, TabularInline):
    model = Entry
    fields = ("account", "amount", "balance_after", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("id", "reference", "kind", "order_id", "actor", "created_at")
    list_filter = ("kind", ("created_at", admin.DateFieldListFilter))
    search_fields = ("reference", "description", "order_id")
    show_full_result_count = False
    inlines = [EntryInline]
    readonly_fields = [f.name for f in Transaction._meta.fields]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdminMixin, ModelAdmin):
    list_display = ("reference", "account", "amount", "status", "order_id", "created_at")
    list_filter = ("status",)
    search_fields = ("reference", "order_id")
    readonly_fields = [f.name for f in Hold._meta.fields]


class InvoiceLineInline(ReadOnlyAdminMixin, TabularInline):
    model = InvoiceLine
    fields = ("day", "description", "bundle_code", "kind", "quantity", "amount")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Invoice)
class InvoiceAdmin(ModelAdmin):
    list_display = (
        "__str__",
        "vendor",
        "period_start",
        "total_display",
        "paid_display",
        "status",
        "due_date",
        "downloads",
    )
    list_filter = ("status", "currency")
    search_fields = ("vendor__name",)
    inlines = [InvoiceLineInline]
    readonly_fields = [f.name for f in Invoice._meta.fields]
    actions = ["settle_outstanding"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="total", ordering="total")
    def total_display(self, obj: Invoice) -> str:
        return _money(obj.total, obj.currency)

    @admin.display(description="paid")
    def paid_display(self, obj: Invoice) -> str:
        return _money(obj.paid_amount, obj.currency)

    @admin.display(description="download")
    def downloads(self, obj: Invoice) -> str:
        return format_html(
            '<a href="{}">CSV</a> · <a href="{}">PDF</a>',
            reverse("admin:ledger_invoice_csv", args=[obj.pk]),
            reverse("admin:ledger_invoice_pdf", args=[obj.pk]),
        )

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "<int:pk>/csv/",
                self.admin_site.admin_view(self.csv_view),
                name="ledger_invoice_csv",
            ),
            path(
                "<int:pk>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="ledger_invoice_pdf",
            ),
        ]
        return extra + super().get_urls()

    def _invoice(self, request: HttpRequest, pk: int) -> Invoice:
        from django.core.exceptions import PermissionDenied

        if not self.has_view_permission(request):
            raise PermissionDenied
        return Invoice.objects.select_related("vendor").get(pk=pk)

    def csv_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = self._invoice(request, pk)
        response = HttpResponse(
            invoice_render.invoice_csv(invoice=invoice), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.csv"'
        return response

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = self._invoice(request, pk)
        response = HttpResponse(
            invoice_render.invoice_pdf(invoice=invoice), content_type="application/pdf"
        )
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
        return response

    def has_settle_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("ttelgo.settle_invoice"))

    @admin.action(
        description="Record full payment of the outstanding amount", permissions=["settle"]
    )
    def settle_outstanding(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        from ledger.operator import operator_invoice_settle

        for invoice in queryset.order_by("pk"):
            try:
                operator_invoice_settle(invoice_id=invoice.pk, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{invoice}: {exc.message}", messages.WARNING)
            else:
                self.message_user(
                    request,
                    f"{invoice} settled at {timezone.now():%Y-%m-%d %H:%M}",
                    messages.SUCCESS,
                )
