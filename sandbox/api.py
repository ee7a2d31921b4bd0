"""Test hooks of the sandbox payment gateway: succeed or fail a PaymentIntent, as a card
would. They answer 404 unless `PAYMENTS_BACKEND=sandbox`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from sandbox import stripe as sandbox
from ttelgo.errors import DomainError
from ttelgo.idempotency import idempotent


class SandboxPaymentIntentApi(APIView):
    """Test hooks of the local gateway: they exist only while the sandbox is on."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        payment_intent_id = serializers.CharField()
        status = serializers.CharField()
        event_id = serializers.CharField()
        event_type = serializers.CharField()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if settings.PAYMENTS_BACKEND != "sandbox":
            raise DomainError("not_found", "Not found.")
        super().initial(request, *args, **kwargs)

    def _answer(self, event: dict[str, Any]) -> Response:
        obj = event["data"]["object"]
        data = {
            "payment_intent_id": obj["id"],
            "status": obj["status"],
            "event_id": event["id"],
            "event_type": event["type"],
        }
        return Response(self.OutputSerializer(data).data, status=200)


class SandboxPaymentIntentSucceedApi(SandboxPaymentIntentApi):
    @extend_schema(
        operation_id="sandbox_payment_intent_succeed",
        request=None,
        responses={200: SandboxPaymentIntentApi.OutputSerializer},
        auth=[],
    )
    @idempotent()
    def post(self, request: Request, payment_intent_id: str) -> Response:
        return self._answer(sandbox.sandbox_intent_succeed(payment_intent_id=payment_intent_id))


class SandboxPaymentIntentFailApi(SandboxPaymentIntentApi):
    @extend_schema(
        operation_id="sandbox_payment_intent_fail",
        request=None,
        responses={200: SandboxPaymentIntentApi.OutputSerializer},
        auth=[],
    )
    @idempotent()
    def post(self, request: Request, payment_intent_id: str) -> Response:
        return self._answer(sandbox.sandbox_intent_fail(payment_intent_id=payment_intent_id))
