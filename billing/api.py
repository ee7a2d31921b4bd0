"""Vendor API: the account's money (API.md "Vendor API"): balance, statement, invoices.
Served by the ledger app, which keeps the vendor's accounts and invoices."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors as ledger_selectors
from billing.invoice_render import invoice_csv
from billing.models import Invoice
from ledger.models import Entry
from ttelgo.errors import DomainError
from ttelgo.fields import LivemodeField, MoneyField
from ttelgo.filters import QueryFilters, query_filters
from ttelgo.money import Money
from ttelgo.pagination import StatementCursorPagination
from vendors.auth import VendorApiMixin
from vendors.models import Vendor


class VendorBalanceApi(VendorApiMixin, APIView):
    class OutputSerializer(serializers.Serializer):
        billing_mode = serializers.ChoiceField(choices=Vendor.BillingMode.choices)
        currency = serializers.CharField()
        balance = MoneyField()
        reserved = MoneyField()
        credit_limit = MoneyField()
        available = MoneyField()
        livemode = serializers.BooleanField(help_text="false for the test wallet")

    @extend_schema(responses=OutputSerializer, tags=["vendor"])
    def get(self, request: Request) -> Response:
        vendor: Vendor = request.vendor  # type: ignore[attr-defined]
        balance = ledger_selectors.vendor_balance(vendor=vendor)
        return Response(self.OutputSerializer({**vars(balance), "livemode": vendor.livemode}).data)


class StatementFilters(QueryFilters):
    """`from` / `to`: ISO dates (UTC), both inclusive."""

    def get_fields(self) -> dict[str, Any]:
        # `from` is a Python keyword: declared here instead of as class attributes.
        return {
            "from": serializers.DateField(required=False),
            "to": serializers.DateField(required=False),
        }


class VendorLedgerApi(VendorApiMixin, generics.ListAPIView):
    """The statement of the vendor's wallet (prepaid) or receivable (postpaid), newest
    first; amounts from the vendor's point of view (money of theirs with us is positive)."""

    pagination_class = StatementCursorPagination

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        created_at = serializers.DateTimeField(source="posted_at")
        type = serializers.CharField()
        description = serializers.CharField()
        amount = MoneyField(amount_attr="statement_amount")
        balance_after = MoneyField(amount_attr="statement_balance_after")
        order_id = serializers.IntegerField(allow_null=True)
        livemode = LivemodeField()

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no vendor
            return Entry.objects.none()
        when = query_filters(self.request, StatementFilters)
        lines = ledger_selectors.vendor_statement(vendor=self.request.vendor)  # type: ignore[attr-defined]
        if "from" in when:
            lines = lines.filter(transaction__created_at__date__gte=when["from"])
        if "to" in when:
            lines = lines.filter(transaction__created_at__date__lte=when["to"])
        return lines

    @extend_schema(tags=["vendor"], parameters=[StatementFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


def _invoice_get(request: Request, invoice_id: int) -> Invoice:
    invoice = (
        ledger_selectors.vendor_invoices(vendor=request.vendor)  # type: ignore[attr-defined]
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        raise DomainError("not_found", "No such invoice.")
    return invoice


class InvoiceFilters(QueryFilters):
    status = serializers.ChoiceField(choices=Invoice.Status.choices, required=False)


class VendorInvoiceListApi(VendorApiMixin, generics.ListAPIView):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        number = serializers.CharField()
        period_start = serializers.DateField()
        period_end = serializers.DateField()
        total = MoneyField(amount_attr="total")
        paid = MoneyField(amount_attr="paid_amount")
        status = serializers.CharField()
        issued_at = serializers.DateTimeField()
        due_date = serializers.DateField()
        lines_url = serializers.SerializerMethodField()
        lines_csv_url = serializers.SerializerMethodField()
        livemode = LivemodeField()

        def get_lines_url(self, invoice: Invoice) -> str:
            return self.context["request"].build_absolute_uri(
                reverse("vendor-invoice-lines", kwargs={"invoice_id": invoice.pk})
            )

        def get_lines_csv_url(self, invoice: Invoice) -> str:
            return self.context["request"].build_absolute_uri(
                reverse("vendor-invoice-lines-csv", kwargs={"invoice_id": invoice.pk})
            )

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[Invoice]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no vendor
            return Invoice.objects.none()
        where = query_filters(self.request, InvoiceFilters)
        return ledger_selectors.vendor_invoices(vendor=self.request.vendor).filter(**where)  # type: ignore[attr-defined]

    @extend_schema(tags=["vendor"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class VendorInvoiceLineSerializer(serializers.Serializer):
    day = serializers.DateField()
    kind = serializers.CharField()
    bundle_code = serializers.CharField()
    quantity = serializers.IntegerField()
    description = serializers.CharField()
    amount = MoneyField(amount_attr="amount", currency_attr="invoice.currency")


class VendorInvoiceLinesApi(VendorApiMixin, APIView):
    class OutputSerializer(serializers.Serializer):
        invoice_id = serializers.IntegerField()
        number = serializers.CharField()
        total = MoneyField()
        lines = VendorInvoiceLineSerializer(many=True)

    @extend_schema(responses=OutputSerializer, tags=["vendor"])
    def get(self, request: Request, invoice_id: int) -> Response:
        invoice = _invoice_get(request, invoice_id)
        body = {
            "invoice_id": invoice.pk,
            "number": invoice.number,
            "total": Money(invoice.total, invoice.currency),
            "lines": invoice.lines.all(),
        }
        return Response(self.OutputSerializer(body, context={"currency": invoice.currency}).data)


class CSVRenderer(BaseRenderer):
    """Lets `Accept: text/csv` through content negotiation; errors still render as JSON."""

    media_type = "text/csv"
    format = "csv"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        if isinstance(data, str | bytes):
            return data.encode() if isinstance(data, str) else data
        return json.dumps(data).encode()


class VendorInvoiceLinesCsvApi(VendorApiMixin, APIView):
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.STR},
        tags=["vendor"],
    )
    def get(self, request: Request, invoice_id: int) -> HttpResponse:
        invoice = _invoice_get(request, invoice_id)
        response = HttpResponse(invoice_csv(invoice=invoice), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.csv"'
        return response
