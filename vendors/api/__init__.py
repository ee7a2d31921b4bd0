"""Vendor API: onboarding (API.md "Vendor API"); the account's money is served by the
ledger app (`ledger/api.py`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ttelgo.fields import SendableEmailField, SingleLineCharField
from ttelgo.idempotency import idempotent
from vendors.auth import VendorApiMixin
from vendors.branding import vendor_brand_set
from vendors.models import Vendor, VendorBrand
from vendors.services import vendor_signup
from vendors.throttling import SignupThrottle


class VendorSignupApi(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [SignupThrottle]
    throttle_scope = "signup"

    class InputSerializer(serializers.Serializer):
        # Only these fields are read: status, credit_limit, discounts… in a body are ignored.
        company_name = SingleLineCharField(max_length=200)
        contact_email = SendableEmailField(max_length=254)
        country = serializers.RegexField(r"^[A-Za-z]{2}$", help_text="ISO 3166-1 alpha-2")
        billing_mode = serializers.ChoiceField(choices=Vendor.BillingMode.choices)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        status = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer}, tags=["vendor"])
    @idempotent()
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vendor = vendor_signup(**data.validated_data)
        return Response(self.OutputSerializer(vendor).data, status=status.HTTP_201_CREATED)


class VendorBrandApi(VendorApiMixin, APIView):
    """The vendor's brand on its end customers' eSIM pages (white label)."""

    class BrandSerializer(serializers.Serializer):
        display_name = SingleLineCharField(max_length=100, required=False)
        logo_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
        primary_color = serializers.RegexField(
            r"^#[0-9a-fA-F]{6}$", required=False, help_text="#rrggbb"
        )
        support_email = SendableEmailField(required=False, allow_blank=True)
        support_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
        topup_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
        sender_name = SingleLineCharField(max_length=100, required=False, allow_blank=True)

    @extend_schema(responses={200: BrandSerializer}, tags=["vendor"])
    def get(self, request: Request) -> Response:
        vendor = request.vendor  # type: ignore[attr-defined]
        brand = VendorBrand.objects.filter(vendor=vendor).first()
        if brand is None:  # what the end customers see until one is set
            brand = VendorBrand(
                vendor=vendor, display_name=vendor.name, support_email=vendor.contact_email
            )
        return Response(self.BrandSerializer(brand).data)

    @extend_schema(request=BrandSerializer, responses={200: BrandSerializer}, tags=["vendor"])
    def put(self, request: Request) -> Response:
        data = self.BrandSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        brand = vendor_brand_set(
            vendor=request.vendor,  # type: ignore[attr-defined]
            **data.validated_data,
        )
        return Response(self.BrandSerializer(brand).data)

    patch = put
