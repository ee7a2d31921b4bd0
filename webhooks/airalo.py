"""`POST /api/v1/webhooks/airalo`: Airalo's notifications (async orders, low data, credit
limit), through the inbound path every provider's callbacks take (webhooks/inbound.py).

Verified with HMAC-SHA512 (hex) in `airalo-signature` (some clients read
`x-airalo-signature`), keyed with our client secret, of the raw body or of the body as
Airalo's PHP SDK re-encodes it (providers.airalo.airalo_signature_valid). Stored first as
an `InboundEvent` whose id is the async order's `request_id` or else the body's hash, so a
replayed or redelivered notification is stored, and acted on, once; then processed by the
inbound task after the commit. `HEAD` answers 200: Airalo checks the URL that way when we
opt in.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfilment.provisioning import order_id_from_provider_reference
from orders.models import Order
from orders.services import order_provisioning_enqueue
from providers.airalo import SIGNATURE_HEADERS, airalo_signature_valid
from ttelgo.errors import DomainError
from webhooks.inbound import inbound_event_store
from webhooks.models import InboundEvent

logger = logging.getLogger(__name__)


def _event_type(payload: dict[str, Any]) -> str:
    if payload.get("request_id"):
        return "async_order"
    if "level" in payload and payload.get("iccid"):
        return "low_data"
    if "remaining" in payload and "message" in payload:
        return "credit_limit"
    return str(payload.get("type") or payload.get("event") or "unknown")[:100]


def airalo_event_receive(*, body: bytes, signature: str) -> tuple[InboundEvent, bool]:
    """Verify and store one notification; (event, created). A replay is not an error."""
    if not airalo_signature_valid(
        body=body, signature=signature, secret=settings.AIRALO_CLIENT_SECRET
    ):
        raise DomainError("validation_error", "The notification signature is not valid.")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DomainError("validation_error", "The notification body is not JSON.") from None
    if not isinstance(payload, dict):
        raise DomainError("validation_error", "The notification body is not an object.")
    kind = _event_type(payload)
    event_id = (
        f"request:{payload['request_id']}"
        if kind == "async_order"
        else hashlib.sha256(body).hexdigest()
    )
    return inbound_event_store(
        source=InboundEvent.Source.AIRALO, event_id=event_id, event_type=kind, payload=payload
    )


def airalo_event_handle(event: InboundEvent) -> bool:
    """Act on a stored notification; False when it is not for us (ignored).

    An async order is delivered: its order's provisioning runs now (it reads the order
    from Airalo by our reference, so the webhook's own copy is never trusted for eSIMs).
    Low data and credit limit are logged for operators."""
    payload = event.payload
    if event.event_type == "async_order":
        data = payload.get("data") if isinstance(payload.get("data"), dict) else payload
        order_id = order_id_from_provider_reference(str(data.get("description") or ""))
        if order_id is None:
            return False
        order = Order.objects.filter(pk=order_id, status=Order.Status.PROVISIONING).first()
        if order is None:
            return False
        order_provisioning_enqueue(order_id=order.pk, livemode=order.livemode)
        return True
    if event.event_type == "credit_limit":
        logger.warning(
            "Airalo credit limit: %s (remaining %s)",
            payload.get("message"),
            payload.get("remaining"),
        )
        return True
    return False


class AiraloWebhookApi(APIView):
    """Airalo notifications; authenticated by their HMAC signature only."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        received = serializers.BooleanField()
        duplicate = serializers.BooleanField()

    @extend_schema(
        request={"application/json": {"type": "object"}},
        responses={200: OutputSerializer, 400: OpenApiResponse(description="bad signature")},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        signature = next(
            (request.headers.get(h, "") for h in SIGNATURE_HEADERS if request.headers.get(h)), ""
        )
        _event, created = airalo_event_receive(body=request.body, signature=signature)
        return Response(self.OutputSerializer({"received": True, "duplicate": not created}).data)

    @extend_schema(exclude=True)
    def head(self, request: Request) -> HttpResponse:
        return HttpResponse(status=200)
