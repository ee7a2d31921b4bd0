"""Vendor API: onboarding (API.md "Vendor API"); the account's money is served by the
ledger app (`ledger/api.py`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ttelgo.idempotency import idempotent
from vendors.models import Vendor
from vendors.services import vendor_signup
from vendors.throttling import SignupThrottle


class VendorSignupApi(APIView):
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [SignupThrottle]
    throttle_scope = "signup"

    class InputSerializer(serializers.Serializer):
        # Only these fields are read: status, credit_limit, discounts… in a body are ignored.
        company_name = serializers.CharField(max_length=200)
        contact_email = serializers.EmailField(max_length=254)
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
