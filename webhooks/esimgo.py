"""`POST /api/v1/webhooks/esimgo`: eSIM Go usage callbacks.

Verified with HMAC-SHA256 of the raw body keyed with our API key (`X-Signature-SHA256`,
hex or base64: eSIM Go's own documents disagree), stored as an `InboundEvent` first (the
body's hash is the event id, so a redelivered callback is stored once), then processed by
a task after the commit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfilment.models import Esim
from fulfilment.services import esim_bundle_reported
from ttelgo.errors import DomainError
from ttelgo.outbox import task_enqueue
from webhooks.models import InboundEvent
from webhooks.state import inbound_move

SIGNATURE_HEADER = "X-Signature-SHA256"
BYTES_PER_MB = 1024 * 1024


def esimgo_signature_valid(*, body: bytes, signature: str, key: str) -> bool:
    if not key or not signature:
        return False
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    candidate = signature.strip()
    if hmac.compare_digest(candidate.lower(), digest.hex()):
        return True
    try:
        decoded = base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(decoded, digest)


def esimgo_event_receive(*, body: bytes, signature: str) -> tuple[InboundEvent, bool]:
    """Verify and store one callback. Returns (event, created); a duplicate is not an error."""
    if not esimgo_signature_valid(body=body, signature=signature, key=settings.ESIMGO_API_KEY):
        raise DomainError("validation_error", "The callback signature is not valid.")
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DomainError("validation_error", "The callback body is not JSON.") from None
    if not isinstance(payload, dict) or not payload.get("iccid"):
        raise DomainError("validation_error", "The callback has no iccid.")
    event_id = hashlib.sha256(body).hexdigest()
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                source=InboundEvent.Source.ESIMGO,
                event_id=event_id,
                event_type=str(payload.get("alertType") or "unknown")[:100],
                payload=payload,
            )
            task_enqueue("webhooks.tasks.esim_callback_process", event.pk)
    except IntegrityError:
        return InboundEvent.objects.get(source=InboundEvent.Source.ESIMGO, event_id=event_id), False
    return event, True


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def esimgo_event_process(*, event_pk: int) -> None:
    """Apply a stored callback's usage figures to our eSIM record. Unknown eSIMs (sold
    elsewhere on the same account) are ignored; a processed event is not applied again."""

    event = InboundEvent.objects.get(pk=event_pk)
    if event.status != InboundEvent.Status.RECEIVED:
        return
    payload = event.payload
    esim = Esim.objects.filter(iccid=str(payload.get("iccid", ""))).first()
    bundle = payload.get("bundle") or {}
    if esim is None or not isinstance(bundle, dict) or "remainingQuantity" not in bundle:
        inbound_move(
            InboundEvent.objects.filter(pk=event.pk),
            to=InboundEvent.Status.IGNORED,
            expected=InboundEvent.Status.RECEIVED,
            processed_at=timezone.now(),
            attempts=1,
        )
        return
    unlimited = bool(bundle.get("unlimited"))
    with transaction.atomic():
        claimed = inbound_move(
            InboundEvent.objects.filter(pk=event.pk),
            to=InboundEvent.Status.PROCESSED,
            expected=InboundEvent.Status.RECEIVED,
            processed_at=timezone.now(),
            attempts=1,
        )
        if not claimed:
            return
        esim_bundle_reported(
            esim=esim,
            bundle_code=str(bundle.get("name") or esim.bundle_code),
            initial_mb=_int(bundle.get("initialQuantity")) // BYTES_PER_MB,
            remaining_mb=_int(bundle.get("remainingQuantity")) // BYTES_PER_MB,
            unlimited=unlimited,
            state="depleted"
            if not unlimited and _int(bundle.get("remainingQuantity")) <= 0
            else "active",
            expires_at=_when(bundle.get("endTime")),
        )


def _when(value: Any) -> datetime | None:
    """A provider timestamp, or None when it is missing or not a date."""
    try:
        return parse_datetime(str(value or ""))
    except ValueError:
        return None


class EsimGoCallbackApi(APIView):
    """Provider usage callbacks; authenticated by their HMAC signature only."""

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
        _event, created = esimgo_event_receive(
            body=request.body, signature=request.headers.get(SIGNATURE_HEADER, "")
        )
        return Response(self.OutputSerializer({"received": True, "duplicate": not created}).data)
