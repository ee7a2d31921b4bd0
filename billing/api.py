"""Vendor API: the account's money (API.md "Vendor API"): balance, statement, invoices.
Served by the ledger app, which keeps the vendor's accounts and invoices."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors as ledger_selectors
from billing.invoice_render import invoice_csv
from billing.models import Invoice, WalletTransfer
from billing.subvendors import (
    sub_vendor_create,
    sub_vendor_credit_limit_set,
    sub_vendor_get,
    sub_vendor_tree,
    sub_vendor_update,
    sub_vendor_webhooks_set,
    wallet_transfer_create,
)
from ledger.models import Entry
from ttelgo.errors import DomainError
from ttelgo.fields import LivemodeField, MoneyField
from ttelgo.filters import QueryFilters, query_filters
from ttelgo.idempotency import idempotent
from ttelgo.money import Money
from ttelgo.pagination import StatementCursorPagination
from vendors.auth import VendorApiMixin
from vendors.models import Vendor

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True
)


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


# --- sub-vendors (docs/MONEY.md "Sub-vendors") --------------------------------------------


class SubVendorOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField(source="access_status")
    billing_mode = serializers.CharField()
    currency = serializers.CharField()
    markup_bps = serializers.IntegerField(help_text="your markup on your own price")
    depth = serializers.IntegerField(help_text="1: your sub-vendor, 2: its sub-vendor, ...")
    parent_id = serializers.IntegerField()
    balance = MoneyField(source="money.balance")
    reserved = MoneyField(source="money.reserved")
    credit_limit = MoneyField(source="money.credit_limit")
    available = MoneyField(source="money.available")
    created_at = serializers.DateTimeField()
    livemode = serializers.BooleanField()


def _with_money(vendor: Vendor) -> Vendor:
    vendor.money = ledger_selectors.vendor_balance(vendor=vendor)  # type: ignore[attr-defined]
    return vendor


class VendorSubVendorListCreateApi(VendorApiMixin, APIView):
    """A vendor's sub-vendors (all levels below it), and a new one below it."""

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        billing_mode = serializers.ChoiceField(
            choices=Vendor.BillingMode.choices, default=Vendor.BillingMode.PREPAID
        )
        markup_bps = serializers.IntegerField(min_value=0, max_value=100_000, default=0)
        owner_email = serializers.EmailField(required=False, allow_blank=True, default="")
        credit_limit = MoneyField(required=False, help_text="postpaid only")

    @extend_schema(
        operation_id="vendor_sub_vendor_list",
        responses={200: SubVendorOutputSerializer(many=True)},
        tags=["vendor"],
    )
    def get(self, request: Request) -> Response:
        parent: Vendor = request.vendor  # type: ignore[attr-defined]
        tree = sub_vendor_tree(vendor=parent)[:200]
        depth0 = parent.depth
        rows = []
        for sub in tree:
            sub = _with_money(sub)
            rows.append(sub)
            sub.depth_below = sub.depth - depth0  # type: ignore[attr-defined]
        data = SubVendorOutputSerializer(rows, many=True).data
        for item, sub in zip(data, rows, strict=True):
            item["depth"] = sub.depth_below  # type: ignore[attr-defined]
        return Response(data)

    @extend_schema(
        operation_id="vendor_sub_vendor_create",
        request=InputSerializer,
        responses={201: SubVendorOutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        tags=["vendor"],
    )
    @idempotent(required=True)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sub = sub_vendor_create(parent=request.vendor, **data.validated_data)  # type: ignore[attr-defined]
        out = SubVendorOutputSerializer(_with_money(sub)).data
        out["depth"] = 1
        return Response(out, status=status.HTTP_201_CREATED)


class VendorSubVendorDetailApi(VendorApiMixin, APIView):
    """One direct sub-vendor, with its balance; PATCH changes your markup on it."""

    class InputSerializer(serializers.Serializer):
        markup_bps = serializers.IntegerField(min_value=0, max_value=100_000)

    @extend_schema(
        operation_id="vendor_sub_vendor_get",
        responses={200: SubVendorOutputSerializer},
        tags=["vendor"],
    )
    def get(self, request: Request, sub_vendor_id: int) -> Response:
        sub = sub_vendor_get(parent=request.vendor, sub_vendor_id=sub_vendor_id)  # type: ignore[attr-defined]
        out = SubVendorOutputSerializer(_with_money(sub)).data
        out["depth"] = 1
        return Response(out)

    @extend_schema(
        operation_id="vendor_sub_vendor_update",
        request=InputSerializer,
        responses={200: SubVendorOutputSerializer},
        tags=["vendor"],
    )
    def patch(self, request: Request, sub_vendor_id: int) -> Response:
        parent: Vendor = request.vendor  # type: ignore[attr-defined]
        sub = sub_vendor_get(parent=parent, sub_vendor_id=sub_vendor_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sub = sub_vendor_update(parent=parent, sub_vendor=sub, **data.validated_data)
        out = SubVendorOutputSerializer(_with_money(sub)).data
        out["depth"] = 1
        return Response(out)


class VendorSubVendorCreditLimitApi(VendorApiMixin, APIView):
    """The credit line you grant a postpaid sub-vendor, within your own."""

    class InputSerializer(serializers.Serializer):
        credit_limit = MoneyField()

    @extend_schema(
        operation_id="vendor_sub_vendor_credit_limit_set",
        request=InputSerializer,
        responses={200: SubVendorOutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        tags=["vendor"],
    )
    @idempotent(required=True)
    def post(self, request: Request, sub_vendor_id: int) -> Response:
        parent: Vendor = request.vendor  # type: ignore[attr-defined]
        sub = sub_vendor_get(parent=parent, sub_vendor_id=sub_vendor_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sub = sub_vendor_credit_limit_set(
            parent=parent, sub_vendor=sub, limit=data.validated_data["credit_limit"]
        )
        out = SubVendorOutputSerializer(_with_money(sub)).data
        out["depth"] = 1
        return Response(out)


class TransferOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id")
    parent_id = serializers.IntegerField()
    sub_vendor_id = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=WalletTransfer.Direction.choices)
    amount = MoneyField(amount_attr="amount")
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    livemode = serializers.BooleanField()


class VendorSubVendorTransferListCreateApi(VendorApiMixin, generics.ListAPIView):
    """Money you move into a prepaid sub-vendor's wallet (`fund`) or take back from it
    (`withdraw`): refused over what the paying side has available (402)."""

    class InputSerializer(serializers.Serializer):
        amount = MoneyField(positive=True)
        direction = serializers.ChoiceField(
            choices=WalletTransfer.Direction.choices, default=WalletTransfer.Direction.FUND
        )
        description = serializers.CharField(
            max_length=255, required=False, allow_blank=True, default=""
        )

    serializer_class = TransferOutputSerializer

    def get_queryset(self) -> QuerySet[WalletTransfer]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no vendor
            return WalletTransfer.objects.none()
        sub = sub_vendor_get(parent=self.request.vendor, sub_vendor_id=self.kwargs["sub_vendor_id"])  # type: ignore[attr-defined]
        return WalletTransfer.objects.filter(parent=self.request.vendor, sub_vendor=sub)  # type: ignore[attr-defined]

    @extend_schema(operation_id="vendor_sub_vendor_transfer_list", tags=["vendor"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="vendor_sub_vendor_transfer_create",
        request=InputSerializer,
        responses={201: TransferOutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        tags=["vendor"],
    )
    @idempotent(required=True)
    def post(self, request: Request, sub_vendor_id: int) -> Response:
        parent: Vendor = request.vendor  # type: ignore[attr-defined]
        sub = sub_vendor_get(parent=parent, sub_vendor_id=sub_vendor_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        transfer = wallet_transfer_create(parent=parent, sub_vendor=sub, **data.validated_data)
        return Response(TransferOutputSerializer(transfer).data, status=status.HTTP_201_CREATED)


class VendorTransferListApi(VendorApiMixin, generics.ListAPIView):
    """Every transfer you made to your sub-vendors, and those your parent made to you."""

    serializer_class = TransferOutputSerializer

    def get_queryset(self) -> QuerySet[WalletTransfer]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no vendor
            return WalletTransfer.objects.none()
        vendor = self.request.vendor  # type: ignore[attr-defined]
        return WalletTransfer.objects.filter(Q(parent=vendor) | Q(sub_vendor=vendor))

    @extend_schema(operation_id="vendor_transfer_list", tags=["vendor"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class VendorSubVendorSettingsApi(VendorApiMixin, APIView):
    """Your settings as a parent: whether your sub-vendors' webhook events come to you."""

    class Serializer(serializers.Serializer):
        sub_vendor_webhooks = serializers.BooleanField(
            help_text="also send me my direct sub-vendors' events (with `sub_vendor_id`)"
        )
        max_depth = serializers.IntegerField(read_only=True)
        livemode = serializers.BooleanField(read_only=True)

    def _answer(self, vendor: Vendor) -> Response:
        return Response(
            self.Serializer(
                {
                    "sub_vendor_webhooks": vendor.sub_vendor_webhooks,
                    "max_depth": settings.SUB_VENDOR_MAX_DEPTH,
                    "livemode": vendor.livemode,
                }
            ).data
        )

    @extend_schema(
        operation_id="vendor_sub_vendor_settings_get", responses={200: Serializer}, tags=["vendor"]
    )
    def get(self, request: Request) -> Response:
        return self._answer(request.vendor)  # type: ignore[attr-defined]

    @extend_schema(
        operation_id="vendor_sub_vendor_settings_set",
        request=Serializer,
        responses={200: Serializer},
        tags=["vendor"],
    )
    def put(self, request: Request) -> Response:
        data = self.Serializer(data=request.data)
        data.is_valid(raise_exception=True)
        vendor = sub_vendor_webhooks_set(
            vendor=request.vendor,  # type: ignore[attr-defined]
            enabled=data.validated_data["sub_vendor_webhooks"],
        )
        return self._answer(vendor)
