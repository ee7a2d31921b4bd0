"""Customer (JWT) and vendor (API key) endpoints for orders and eSIMs (API.md). Thin: they
validate, call a service or selector, and shape the answer. Every read is scoped to the
caller, so another buyer's id is a plain 404."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.subvendors import sub_vendor_in_tree
from catalogue.qr import qr_png, qr_svg
from fulfilment.models import Esim
from fulfilment.notifications import esim_delivery_resend
from fulfilment.refunds import esim_refund_request
from fulfilment.sale import order_create_b2b
from fulfilment.selectors import esim_get_for_buyer, esim_list_for_buyer
from fulfilment.serializers import (
    CustomerOrderOutputSerializer,
    EsimOutputSerializer,
    EsimUsageOutputSerializer,
    VendorOrderOutputSerializer,
)
from fulfilment.services import esim_usage_refresh, esim_usage_view
from fulfilment.topups import order_create_topup, topup_compatibility_check
from orders import selectors, services
from orders.models import Order
from ttelgo.client_ip import client_ip
from ttelgo.crypto import body_sealer
from ttelgo.errors import DomainError
from ttelgo.fields import LivemodeField, MoneyField, SendableEmailField
from ttelgo.filters import QueryFilters, query_filters
from ttelgo.idempotency import idempotent
from vendors.auth import VendorApiMixin
from vendors.throttling import VendorOrderThrottle, VendorRateThrottle

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True
)


def _buyer(request: Request) -> dict[str, Any]:
    vendor = getattr(request, "vendor", None)
    return {"vendor": vendor} if vendor is not None else {"customer": request.user}


# --- customer orders --------------------------------------------------------------------

# A stored answer keeps the PaymentIntent's client secret encrypted (replays show it).
_SECRET_SEAL, _SECRET_UNSEAL = body_sealer(
    "payment", "client_secret", purpose="ttelgo.payments.client_secret"
)


class CustomerOrderFilters(QueryFilters):
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)


class VendorOrderFilters(CustomerOrderFilters):
    customer_reference = serializers.CharField(max_length=255, required=False)
    sub_vendor = serializers.IntegerField(
        required=False, min_value=1, help_text="the orders of this sub-vendor of yours (any level)"
    )
    created_from = serializers.DateTimeField(required=False)
    created_to = serializers.DateTimeField(required=False)


class EsimFilters(QueryFilters):
    status = serializers.ChoiceField(choices=Esim.Status.choices, required=False)


class VendorEsimFilters(EsimFilters):
    bundle_code = serializers.CharField(max_length=100, required=False)
    customer_reference = serializers.CharField(max_length=255, required=False)
    iccid = serializers.CharField(max_length=22, required=False)


class OrderListCreateApi(generics.ListAPIView):
    class InputSerializer(serializers.Serializer):
        bundle_code = serializers.CharField(max_length=100)
        quantity = serializers.IntegerField(min_value=1, max_value=services.MAX_QUANTITY)
        save_card = serializers.BooleanField(
            required=False,
            default=False,
            help_text="keep the card this order is paid with for auto top-ups (consent)",
        )
        currency = serializers.CharField(
            max_length=3,
            required=False,
            default="",
            allow_blank=True,
            help_text=(
                "ISO 4217: price and pay the order in one of the currencies customers may "
                "choose (the catalogue's `?currency=`); omitted, the catalogue's own"
            ),
        )

    class OutputSerializer(CustomerOrderOutputSerializer):
        pass

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[Order]:
        return selectors.order_list_for_buyer(
            customer=self.request.user, **query_filters(self.request, CustomerOrderFilters)
        )

    @extend_schema(parameters=[CustomerOrderFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=InputSerializer,
        responses={201: OutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @idempotent(required=True, seal=_SECRET_SEAL, unseal=_SECRET_UNSEAL, atomic=False)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_create_b2c(
            customer=request.user,
            bundle_code=data.validated_data["bundle_code"],
            quantity=data.validated_data["quantity"],
            client_ip=client_ip(request),
            save_card=data.validated_data["save_card"],
            currency=data.validated_data["currency"],
        )
        order = selectors.order_get_for_buyer(order_id=order.pk, customer=request.user)
        return Response(self.OutputSerializer(order).data, status=status.HTTP_201_CREATED)


class OrderDetailApi(APIView):
    class OutputSerializer(CustomerOrderOutputSerializer):
        pass

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request, order_id: int) -> Response:
        order = selectors.order_get_for_buyer(order_id=order_id, customer=request.user)
        return Response(self.OutputSerializer(order).data)


class OrderCancelApi(APIView):
    class OutputSerializer(CustomerOrderOutputSerializer):
        pass

    @extend_schema(request=None, responses={200: OutputSerializer})
    @idempotent(atomic=False)
    def post(self, request: Request, order_id: int) -> Response:
        selectors.order_get_for_buyer(order_id=order_id, customer=request.user)
        services.order_cancel(order_id=order_id, actor=request.user)
        order = selectors.order_get_for_buyer(order_id=order_id, customer=request.user)
        return Response(self.OutputSerializer(order).data)


# --- eSIMs (shared by both audiences) ---------------------------------------------------


class PngRenderer(BaseRenderer):
    media_type = "image/png"
    format = "png"
    charset = None
    render_style = "binary"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> Any:
        return data


class SvgRenderer(PngRenderer):
    media_type = "image/svg+xml"
    format = "svg"


class EsimQrMixin:
    """`?format=svg` picks the SVG renderer (DRF's format override); errors stay JSON."""

    renderer_classes: Sequence[type[BaseRenderer]] = [PngRenderer, SvgRenderer, JSONRenderer]

    QR_FORMATS = ("png", "svg")

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # A QR is an image: `?format=json` (or any other format) is refused with 400, not
        # answered with a PNG nor a 404.
        wanted = request.query_params.get("format")
        if wanted is not None and wanted not in self.QR_FORMATS and not force:
            raise DomainError(
                "validation_error",
                f"A QR code comes as png or svg, not {wanted[:20]}.",
                details={"format": ["Must be one of: png, svg."]},
            )
        return super().perform_content_negotiation(request, force)  # type: ignore[misc]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        if response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]

    def qr_response(self, request: Request, iccid: str) -> Response:
        esim = esim_get_for_buyer(iccid=iccid, **_buyer(request))
        if esim.status == Esim.Status.REVOKED:
            raise DomainError(
                "invalid_state",
                f"eSIM {esim.iccid} was revoked (refunded); its QR code installs nothing.",
                details={"status": esim.status},
            )
        if request.accepted_renderer.format == "svg":
            return Response(qr_svg(esim.lpa), content_type=SvgRenderer.media_type)
        # A client that only said it accepts JSON still gets the image it asked a QR for.
        request.accepted_renderer = PngRenderer()
        return Response(qr_png(esim.lpa), content_type=PngRenderer.media_type)


QR_SCHEMA = extend_schema(
    parameters=[
        OpenApiParameter(
            "format",
            str,
            enum=["png", "svg"],
            required=False,
            description="`png` (the default): answered `image/png`; `svg`: answered "
            "`image/svg+xml` (as with `Accept: image/svg+xml`). Anything else is 400.",
        )
    ],
    responses={
        (200, "image/png"): OpenApiResponse(
            OpenApiTypes.BINARY,
            description="The QR code of the LPA string: `image/png` unless `format=svg` "
            "asked for `image/svg+xml`.",
        ),
        (200, "image/svg+xml"): OpenApiResponse(OpenApiTypes.STR, description="QR as SVG"),
    },
)


def _esim_with_usage(request: Request, iccid: str) -> Esim:
    esim = esim_get_for_buyer(iccid=iccid, **_buyer(request))
    return esim_usage_refresh(esim=esim)


class EsimListApi(generics.ListAPIView):
    class OutputSerializer(EsimOutputSerializer):
        pass

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[Esim]:
        return esim_list_for_buyer(
            customer=self.request.user, **query_filters(self.request, EsimFilters)
        )

    @extend_schema(parameters=[EsimFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class EsimDetailApi(APIView):
    class OutputSerializer(EsimOutputSerializer):
        pass

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request, iccid: str) -> Response:
        esim = esim_get_for_buyer(iccid=iccid, customer=request.user)
        return Response(self.OutputSerializer(esim).data)


class EsimQrApi(EsimQrMixin, APIView):
    @QR_SCHEMA
    def get(self, request: Request, iccid: str) -> Response:
        return self.qr_response(request, iccid)


class EsimUsageApi(APIView):
    class OutputSerializer(EsimUsageOutputSerializer):
        pass

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request, iccid: str) -> Response:
        esim = _esim_with_usage(request, iccid)
        return Response(self.OutputSerializer(esim_usage_view(esim)).data)


class EsimTopupCreateApi(APIView):
    class InputSerializer(serializers.Serializer):
        bundle_code = serializers.CharField(max_length=100)

    class OutputSerializer(CustomerOrderOutputSerializer):
        pass

    def precheck(self, request: Request, iccid: str) -> None:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        topup_compatibility_check(
            iccid=iccid, bundle_code=data.validated_data["bundle_code"], customer=request.user
        )

    @extend_schema(
        request=InputSerializer, responses={201: OutputSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    @idempotent(required=True, seal=_SECRET_SEAL, unseal=_SECRET_UNSEAL, atomic=False)
    def post(self, request: Request, iccid: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = order_create_topup(
            iccid=iccid,
            bundle_code=data.validated_data["bundle_code"],
            customer=request.user,
            client_ip=client_ip(request),
        )
        order = selectors.order_get_for_buyer(order_id=order.pk, customer=request.user)
        return Response(self.OutputSerializer(order).data, status=status.HTTP_201_CREATED)


# --- vendor twins ----------------------------------------------------------------------


class VendorOrderListCreateApi(VendorApiMixin, generics.ListAPIView):
    throttle_classes = [VendorRateThrottle, VendorOrderThrottle]

    class InputSerializer(serializers.Serializer):
        bundle_code = serializers.CharField(max_length=100)
        quantity = serializers.IntegerField(min_value=1, max_value=services.MAX_QUANTITY)
        customer_reference = serializers.CharField(
            max_length=255, required=False, allow_blank=True, default=""
        )
        customer_email = SendableEmailField(
            required=False,
            allow_blank=True,
            default="",
            help_text="email the end customer the eSIMs, under the vendor's brand",
        )
        customer_language = serializers.ChoiceField(
            choices=settings.LANGUAGES, required=False, default="en"
        )

    class OutputSerializer(VendorOrderOutputSerializer):
        pass

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[Order]:
        filters = query_filters(self.request, VendorOrderFilters)
        buyer = self.request.vendor  # type: ignore[attr-defined]
        if "sub_vendor" in filters:  # a parent sees its sub-vendors' orders, no one else's
            buyer = sub_vendor_in_tree(vendor=buyer, sub_vendor_id=filters.pop("sub_vendor"))
        return selectors.order_list_for_buyer(vendor=buyer, **filters)

    @extend_schema(parameters=[VendorOrderFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=InputSerializer, responses={201: OutputSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    @idempotent(required=True)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vendor = request.vendor  # type: ignore[attr-defined]
        # The service returns the order with its rows: nothing to read back. An order
        # delivered from stock comes back completed, with its eSIMs.
        order = order_create_b2b(vendor=vendor, **data.validated_data)
        return Response(self.OutputSerializer(order).data, status=status.HTTP_201_CREATED)


class VendorOrderDetailApi(VendorApiMixin, APIView):
    class OutputSerializer(VendorOrderOutputSerializer):
        pass

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request, order_id: int) -> Response:
        vendor = request.vendor  # type: ignore[attr-defined]
        order = selectors.order_get_for_buyer(order_id=order_id, vendor=vendor)
        return Response(self.OutputSerializer(order).data)


class VendorEsimDetailApi(VendorApiMixin, APIView):
    class OutputSerializer(EsimOutputSerializer):
        pass

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request, iccid: str) -> Response:
        vendor = request.vendor  # type: ignore[attr-defined]
        esim = esim_get_for_buyer(iccid=iccid, vendor=vendor)
        return Response(self.OutputSerializer(esim).data)


class VendorEsimListApi(VendorApiMixin, generics.ListAPIView):
    class OutputSerializer(EsimOutputSerializer):
        pass

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[Esim]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no vendor
            return Esim.objects.none()
        return esim_list_for_buyer(
            vendor=self.request.vendor,  # type: ignore[attr-defined]
            **query_filters(self.request, VendorEsimFilters),
        )

    @extend_schema(parameters=[VendorEsimFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class VendorEsimQrApi(VendorApiMixin, EsimQrMixin, APIView):
    @QR_SCHEMA
    def get(self, request: Request, iccid: str) -> Response:
        return self.qr_response(request, iccid)


class VendorEsimUsageApi(VendorApiMixin, APIView):
    class OutputSerializer(EsimUsageOutputSerializer):
        pass

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request, iccid: str) -> Response:
        esim = _esim_with_usage(request, iccid)
        return Response(self.OutputSerializer(esim_usage_view(esim)).data)


class VendorEsimTopupCreateApi(VendorApiMixin, APIView):
    throttle_classes = [VendorRateThrottle, VendorOrderThrottle]

    class InputSerializer(serializers.Serializer):
        bundle_code = serializers.CharField(max_length=100)

    class OutputSerializer(VendorOrderOutputSerializer):
        pass

    def precheck(self, request: Request, iccid: str) -> None:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        topup_compatibility_check(
            iccid=iccid,
            bundle_code=data.validated_data["bundle_code"],
            vendor=request.vendor,  # type: ignore[attr-defined]
        )

    @extend_schema(
        request=InputSerializer, responses={201: OutputSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    @idempotent(required=True)
    def post(self, request: Request, iccid: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vendor = request.vendor  # type: ignore[attr-defined]
        order = order_create_topup(
            iccid=iccid, bundle_code=data.validated_data["bundle_code"], vendor=vendor
        )
        return Response(self.OutputSerializer(order).data, status=status.HTTP_201_CREATED)


class EsimRefundInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class EsimRefundOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField(help_text="refunded | in_review")
    amount = MoneyField(amount_attr="amount")
    livemode = LivemodeField()


class EsimRefundCreateApi(APIView):
    @extend_schema(
        request=EsimRefundInputSerializer,
        responses={201: EsimRefundOutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    # The provider is asked between the service's own transactions.
    @idempotent(required=True, atomic=False)
    def post(self, request: Request, iccid: str) -> Response:
        # Whose eSIM it is comes first: another buyer's eSIM is 404 whatever the body.
        esim = esim_get_for_buyer(iccid=iccid, customer=request.user)
        data = EsimRefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refund = esim_refund_request(
            esim=esim,
            requested_by=f"customer:{request.user.pk}",
            reason=data.validated_data["reason"],
        )
        return Response(EsimRefundOutputSerializer(refund).data, status=status.HTTP_201_CREATED)


class VendorEsimRefundCreateApi(VendorApiMixin, APIView):
    @extend_schema(
        request=EsimRefundInputSerializer,
        responses={201: EsimRefundOutputSerializer},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @idempotent(required=True, atomic=False)
    def post(self, request: Request, iccid: str) -> Response:
        vendor = request.vendor  # type: ignore[attr-defined]
        esim = esim_get_for_buyer(iccid=iccid, vendor=vendor)
        data = EsimRefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refund = esim_refund_request(
            esim=esim, requested_by=f"vendor:{vendor.pk}", reason=data.validated_data["reason"]
        )
        body = EsimRefundOutputSerializer(refund, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class VendorEsimResendApi(VendorApiMixin, APIView):
    """Email the eSIM's order to the end customer again (or to another address), under
    the vendor's brand."""

    class InputSerializer(serializers.Serializer):
        email = SendableEmailField(required=False, allow_blank=True, default="")

    class OutputSerializer(serializers.Serializer):
        iccid = serializers.CharField()
        email = serializers.EmailField()

    @extend_schema(request=InputSerializer, responses={202: OutputSerializer})
    @idempotent()
    def post(self, request: Request, iccid: str) -> Response:
        vendor = request.vendor  # type: ignore[attr-defined]
        esim = esim_get_for_buyer(iccid=iccid, vendor=vendor)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = esim_delivery_resend(esim=esim, to=data.validated_data["email"])
        return Response({"iccid": esim.iccid, "email": email}, status=status.HTTP_202_ACCEPTED)
