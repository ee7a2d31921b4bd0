"""The local Stripe stand-in: PaymentIntent/Charge/Event JSON shaped exactly as Stripe's
(API version pinned in `payments.gateways.stripe`), signed exactly as Stripe signs
(`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">`) and posted through the
real webhook view, in-process."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import secrets
import time
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.db import transaction
from django.urls import resolve

from payments.gateways.stripe import STRIPE_API_VERSION
from sandbox.lock_objects import sandbox_payment_intent_qs_select_for_update
from sandbox.models import SandboxPaymentIntent
from ttelgo.errors import DomainError

logger = logging.getLogger(__name__)
WEBHOOK_PATH = "/api/v1/webhooks/stripe"
DECLINE_ERROR = {
    "code": "card_declined",
    "decline_code": "generic_decline",
    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
    "message": "Your card was declined.",
    "type": "card_error",
}


def new_id(prefix: str) -> str:
    return f"{prefix}_sbx{secrets.token_hex(12)}"


def stripe_signature_header(payload: bytes, *, secret: str, timestamp: int | None = None) -> str:
    """`Stripe-Signature` for `payload`, as Stripe computes it."""
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def intent_json(pi: SandboxPaymentIntent) -> dict[str, Any]:
    succeeded = pi.status == "succeeded"
    return {
        "id": pi.id,
        "object": "payment_intent",
        "amount": pi.amount,
        "amount_capturable": 0,
        "amount_received": pi.amount if succeeded else 0,
        "automatic_payment_methods": {"allow_redirects": "always", "enabled": True},
        "canceled_at": int(time.time()) if pi.status == "canceled" else None,
        "cancellation_reason": "requested_by_customer" if pi.status == "canceled" else None,
        "capture_method": "automatic_async",
        "client_secret": pi.client_secret,
        "confirmation_method": "automatic",
        "created": pi.created,
        "currency": pi.currency.lower(),
        "customer": pi.customer or None,
        "setup_future_usage": pi.setup_future_usage or None,
        "description": None,
        "last_payment_error": pi.last_payment_error,
        "latest_charge": pi.latest_charge or None,
        "livemode": False,
        "metadata": pi.metadata,
        "next_action": None,
        "payment_method": pi.payment_method or None,
        "payment_method_types": ["card"],
        "status": pi.status,
    }


def charge_json(pi: SandboxPaymentIntent) -> dict[str, Any]:
    refunded = sum(r.amount for r in pi.refunds.all())
    return {
        "id": pi.latest_charge,
        "object": "charge",
        "amount": pi.amount,
        "amount_captured": pi.amount,
        "amount_refunded": refunded,
        "captured": True,
        "created": pi.created,
        "currency": pi.currency.lower(),
        "disputed": False,
        "livemode": False,
        "metadata": pi.metadata,
        "paid": True,
        "payment_intent": pi.id,
        "refunded": refunded >= pi.amount,
        "status": "succeeded",
    }


def event_build(*, type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type,
    }


def event_deliver(event: dict[str, Any]) -> int:
    """POST the signed event to our Stripe webhook URL, as Stripe would (the view found
    through the URLconf, in process); returns its HTTP status."""
    payload = json.dumps(event, separators=(",", ":")).encode()
    header = stripe_signature_header(payload, secret=settings.STRIPE_WEBHOOK_SECRET)
    request = WSGIRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": WEBHOOK_PATH,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(payload)),
            "HTTP_STRIPE_SIGNATURE": header,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(payload),
        }
    )
    response = resolve(WEBHOOK_PATH).func(request)
    if response.status_code != 200:
        logger.warning("sandbox event %s refused: %s", event["id"], response.status_code)
    return int(response.status_code)


def event_emit_on_commit(*, type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Build the event now (the object as it is now, like Stripe) and send it once the
    state change that caused it has committed."""
    event = event_build(type=type, obj=obj)
    transaction.on_commit(lambda: event_deliver(event))
    return event


def _intent_for_update(payment_intent_id: str) -> SandboxPaymentIntent:
    pi = sandbox_payment_intent_qs_select_for_update().filter(pk=payment_intent_id).first()
    if pi is None:
        raise DomainError("not_found", f"No sandbox PaymentIntent {payment_intent_id}.")
    return pi


def _open_intent_for_update(payment_intent_id: str) -> SandboxPaymentIntent:
    """The intent, locked, if it can still be paid or declined (`invalid_state` if not)."""
    pi = _intent_for_update(payment_intent_id)
    if pi.status not in ("requires_payment_method", "requires_confirmation", "processing"):
        raise DomainError(
            "invalid_state",
            f"PaymentIntent {pi.id} is {pi.status}.",
            details={"status": pi.status},
        )
    return pi


def sandbox_intent_succeed(*, payment_intent_id: str) -> dict[str, Any]:
    """The customer paid: intent -> succeeded, emits `payment_intent.succeeded`."""
    with transaction.atomic():
        pi = _open_intent_for_update(payment_intent_id)
        pi.status = "succeeded"
        pi.last_payment_error = None
        pi.latest_charge = new_id("ch")
        # The card it was paid with (the one saved for later, with setup_future_usage).
        pi.payment_method = pi.payment_method or f"pm_sbx{pi.id[-12:]}"
        pi.save(update_fields=["status", "last_payment_error", "latest_charge", "payment_method"])
        return event_emit_on_commit(type="payment_intent.succeeded", obj=intent_json(pi))


def sandbox_intent_fail(*, payment_intent_id: str) -> dict[str, Any]:
    """The card was declined: emits `payment_intent.payment_failed`; the intent is back to
    `requires_payment_method`, as at Stripe."""
    with transaction.atomic():
        pi = _open_intent_for_update(payment_intent_id)
        pi.status = "requires_payment_method"
        pi.last_payment_error = DECLINE_ERROR
        pi.save(update_fields=["status", "last_payment_error"])
        return event_emit_on_commit(type="payment_intent.payment_failed", obj=intent_json(pi))
