"""Payments endpoints: vendor wallet top-ups."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.services import payment_create_for_wallet_topup
from ttelgo.crypto import body_sealer
from ttelgo.fields import MoneyField
from ttelgo.idempotency import idempotent
from ttelgo.money import Money
from vendors.auth import VendorApiMixin

# A stored answer keeps the PaymentIntent's client secret encrypted (replays show it).
_SECRET_SEAL, _SECRET_UNSEAL = body_sealer("client_secret", purpose="ttelgo.payments.client_secret")


class VendorWalletTopupCreateApi(VendorApiMixin, APIView):
    class InputSerializer(serializers.Serializer):
        amount = MoneyField(positive=True)

    class OutputSerializer(serializers.Serializer):
        payment_intent_id = serializers.CharField()
        client_secret = serializers.CharField()
        amount = MoneyField()

    @extend_schema(
        operation_id="vendor_wallet_topup_create",
        request=InputSerializer,
        responses={201: OutputSerializer},
    )
    @idempotent(required=True, seal=_SECRET_SEAL, unseal=_SECRET_UNSEAL)
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = payment_create_for_wallet_topup(
            vendor=request.vendor,  # type: ignore[attr-defined]
            amount=serializer.validated_data["amount"],
        )
        data = {
            "payment_intent_id": payment.payment_intent_id,
            "client_secret": payment.client_secret,
            "amount": Money(payment.amount, payment.currency),
        }
        return Response(self.OutputSerializer(data).data, status=201)
