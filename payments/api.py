"""Payments endpoints: vendor wallet top-ups and invoice payments by card."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from payments.models import Payment
from payments.services import payment_create_for_invoice, payment_create_for_wallet_topup
from ttelgo.crypto import body_sealer
from ttelgo.fields import MoneyField
from ttelgo.idempotency import idempotent
from ttelgo.money import Money
from vendors.auth import VendorApiMixin

# A stored answer keeps the PaymentIntent's client secret encrypted (replays show it).
_SECRET_SEAL, _SECRET_UNSEAL = body_sealer("client_secret", purpose="ttelgo.payments.client_secret")


class PaymentIntentSerializer(serializers.Serializer):
    payment_intent_id = serializers.CharField()
    client_secret = serializers.CharField()
    amount = MoneyField()


def _intent_response(payment: Payment) -> Response:
    data = {
        "payment_intent_id": payment.payment_intent_id,
        "client_secret": payment.client_secret,
        "amount": Money(payment.amount, payment.currency),
    }
    return Response(PaymentIntentSerializer(data).data, status=201)


class VendorWalletTopupCreateApi(VendorApiMixin, APIView):
    class InputSerializer(serializers.Serializer):
        amount = MoneyField(positive=True)

    @extend_schema(
        operation_id="vendor_wallet_topup_create",
        request=InputSerializer,
        responses={201: PaymentIntentSerializer},
    )
    @idempotent(required=True, seal=_SECRET_SEAL, unseal=_SECRET_UNSEAL, atomic=False)
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = payment_create_for_wallet_topup(
            vendor=request.vendor,  # type: ignore[attr-defined]
            amount=serializer.validated_data["amount"],
        )
        return _intent_response(payment)


class VendorInvoicePayApi(VendorApiMixin, APIView):
    @extend_schema(
        operation_id="vendor_invoice_pay",
        summary="Pay an invoice by card",
        description=(
            "Creates a Stripe PaymentIntent for what is still due on the invoice; confirm it "
            "with the returned client_secret. When Stripe confirms the payment, the invoice "
            "is settled (anything above what it owes settles the next open invoice, oldest "
            "first) and the payment shows on the statement. While the amount due is the "
            "same, every request gets the same open PaymentIntent, so the invoice is paid "
            "once. A paid invoice: 409 invalid_state."
        ),
        request=None,
        responses={201: PaymentIntentSerializer},
    )
    @idempotent(required=True, seal=_SECRET_SEAL, unseal=_SECRET_UNSEAL, atomic=False)
    def post(self, request: Request, invoice_id: int) -> Response:
        payment = payment_create_for_invoice(
            vendor=request.vendor,  # type: ignore[attr-defined]
            invoice_id=invoice_id,
        )
        return _intent_response(payment)
