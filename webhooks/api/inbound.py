"""POST /api/v1/webhooks/stripe: verify, store, answer 200; a task does the work."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webhooks.inbound import inbound_event_store, stripe_event_verify
from webhooks.models import InboundEvent


class StripeWebhookApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []

    class OutputSerializer(serializers.Serializer):
        received = serializers.BooleanField()
        duplicate = serializers.BooleanField()

    @extend_schema(
        operation_id="webhooks_stripe_receive",
        request={"application/json": OpenApiTypes.OBJECT},
        responses={200: OutputSerializer},
        auth=[],
        description="Stripe events, verified with the `Stripe-Signature` header.",
    )
    def post(self, request: Request) -> Response:
        # The raw bytes are what Stripe signed; never let DRF parse them first.
        payload = request._request.body
        event = stripe_event_verify(
            payload=payload, signature=request.headers.get("Stripe-Signature")
        )
        _, created = inbound_event_store(
            source=InboundEvent.Source.STRIPE,
            event_id=event["id"],
            event_type=event["type"],
            payload=event,
        )
        data = {"received": True, "duplicate": not created}
        return Response(self.OutputSerializer(data).data, status=200)
