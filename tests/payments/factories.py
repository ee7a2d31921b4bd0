"""Payments test helpers: B2C orders awaiting payment, signed Stripe events, vendor keys."""

from __future__ import annotations

import json
import time
from typing import Any

import factory
from django.conf import settings
from rest_framework.test import APIClient

from orders.models import Order
from sandbox.stripe import stripe_signature_header
from tests.factories import UserFactory
from vendors.models import Vendor, VendorAPIKey


class OrderFactory(factory.django.DjangoModelFactory):
    """A customer order waiting for its card payment (what `POST /orders` leaves behind)."""

    class Meta:
        model = Order

    channel = Order.Channel.B2C
    kind = Order.Kind.ESIM
    customer = factory.SubFactory(UserFactory)
    status = Order.Status.AWAITING_PAYMENT
    currency = "USD"
    total = 1500
    cost_total = 600


def signed_post(
    client: APIClient,
    event: dict[str, Any],
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    body: bytes | None = None,
    header: str | None = None,
) -> Any:
    payload = body if body is not None else json.dumps(event).encode()
    signed_payload = json.dumps(event).encode() if body is not None else payload
    if header is None:
        header = stripe_signature_header(
            signed_payload,
            secret=secret or settings.STRIPE_WEBHOOK_SECRET,
            timestamp=int(time.time()) if timestamp is None else timestamp,
        )
    extra: dict[str, Any] = {"HTTP_STRIPE_SIGNATURE": header} if header else {}
    return client.post(
        "/api/v1/webhooks/stripe", data=payload, content_type="application/json", **extra
    )


def stripe_event(
    type: str, obj: dict[str, Any], *, event_id: str = "evt_1QxTestEvent0001"
) -> dict[str, Any]:
    """An Event as Stripe sends it (API version pinned by the gateway)."""
    from payments.gateways.stripe import STRIPE_API_VERSION

    return {
        "id": event_id,
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_8Hs2fK0kLm1zQp", "idempotency_key": None},
        "type": type,
    }


def vendor_client(vendor: Vendor) -> APIClient:
    _, key = VendorAPIKey.objects.create_key(vendor=vendor, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def paid_wallet_topup(capture: Any, *, cents: int = 2000) -> Any:
    """A new prepaid vendor's wallet top-up, paid through the sandbox (its wallet credited).
    `capture` is pytest-django's `django_capture_on_commit_callbacks`."""
    from payments.models import Payment
    from payments.services import payment_create_for_wallet_topup
    from sandbox.stripe import sandbox_intent_succeed
    from tests.ledger.factories import prepaid
    from ttelgo.money import Money

    payment = payment_create_for_wallet_topup(vendor=prepaid(), amount=Money(cents, "USD"))
    with capture(execute=True):
        sandbox_intent_succeed(payment_intent_id=payment.payment_intent_id)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    return payment
