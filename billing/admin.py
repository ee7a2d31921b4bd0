"""Billing admin: invoices with downloads and settlement. Nothing here writes money
directly: the settle action calls `operator_invoice_settle`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline

from billing import invoice_render
from billing.models import Invoice, InvoiceLine
from billing.operator import operator_invoice_settle
from ttelgo.admin.console import ReadOnlyAdminMixin
from ttelgo.errors import DomainError
from ttelgo.money import Money


def _money(amount: int | None, currency: str) -> str:
    return "" if amount is None else str(Money(amount, currency))


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
            reverse("admin:billing_invoice_csv", args=[obj.pk]),
            reverse("admin:billing_invoice_pdf", args=[obj.pk]),
        )

    def get_urls(self) -> list[URLPattern]:
        extra = [
            path(
                "<int:pk>/csv/",
                self.admin_site.admin_view(self.csv_view),
                name="billing_invoice_csv",
            ),
            path(
                "<int:pk>/pdf/",
                self.admin_site.admin_view(self.pdf_view),
                name="billing_invoice_pdf",
            ),
        ]
        return extra + super().get_urls()

    def _invoice(self, request: HttpRequest, pk: int) -> Invoice:

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
