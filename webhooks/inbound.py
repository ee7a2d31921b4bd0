"""Inbound events (Stripe): verify, store first, process later.

The unique (source, event_id) constraint is what makes a duplicate delivery harmless: only
the first insert wins and only it queues processing. Processing locks the event row, so
even a manual reprocess racing the task runs the handler once at a time.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ttelgo.errors import DomainError
from ttelgo.outbox import BROKER_ERRORS
from ttelgo.queues import queued_marker_void, queues_epoch
from webhooks.lock_objects import inbound_event_qs_select_for_update
from webhooks.models import InboundEvent
from webhooks.state import INBOUND_STATES, inbound_move

logger = logging.getLogger(__name__)
S = InboundEvent.Status
# A stored event whose task has not run after this long was lost (broker outage, crash).
REDRIVE_GRACE = timedelta(minutes=2)
REDRIVE_MAX_ATTEMPTS = 8


def _bad_signature(message: str) -> DomainError:
    return DomainError(
        "validation_error",
        f"Invalid Stripe-Signature: {message}",
        details={"Stripe-Signature": [message]},
    )


def _signature_timestamp(header: str) -> int | None:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            return int(value)
    return None


def stripe_event_verify(
    *, payload: bytes, signature: str | None, now: float | None = None
) -> dict[str, Any]:
    """The event if `signature` is Stripe's for `payload` and its timestamp is within the
    tolerance in both directions; `validation_error` otherwise."""
    if not signature:
        raise _bad_signature("the header is missing.")
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE
    timestamp = _signature_timestamp(signature)
    if timestamp is None:
        raise _bad_signature("no timestamp.")
    # stripe-python refuses old timestamps only; a far-future one is refused here.
    if timestamp > (now if now is not None else time.time()) + tolerance:
        raise _bad_signature("timestamp is in the future.")
    try:
        stripe.Webhook.construct_event(
            payload, signature, settings.STRIPE_WEBHOOK_SECRET, tolerance=tolerance
        )
    except stripe.SignatureVerificationError as exc:
        raise _bad_signature(str(exc.user_message or exc)) from None
    except ValueError:
        raise DomainError("validation_error", "The body is not valid JSON.") from None
    event = json.loads(payload)
    if (
        not isinstance(event, dict)
        or event.get("object") != "event"
        or not isinstance(event.get("id"), str)
        or not isinstance(event.get("type"), str)
    ):
        raise DomainError("validation_error", "The body is not a Stripe event.")
    return event


def inbound_event_store(
    *, source: str, event_id: str, event_type: str, payload: dict[str, Any]
) -> tuple[InboundEvent, bool]:
    """Store the event once; (event, created). Processing is queued on commit only for the
    delivery that created the row."""
    try:
        with transaction.atomic():
            event = InboundEvent.objects.create(
                source=source,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                queued_until=_queued_until(),
            )
            transaction.on_commit(lambda: _process_later(event.pk), robust=True)
            return event, True
    except IntegrityError:
        return InboundEvent.objects.get(source=source, event_id=event_id), False


def _queued_until() -> datetime:
    # Processing runs on the provisioning queue: its lease.
    return timezone.now() + timedelta(seconds=settings.ORDERS_QUEUED_LEASE_SECONDS)


def _process_later(event_pk: int) -> None:
    from webhooks.tasks import inbound_event_process_task

    try:
        inbound_event_process_task.delay(event_pk)
    except BROKER_ERRORS:  # not queued after all: the re-drive may queue it at once
        InboundEvent.objects.filter(pk=event_pk).update(queued_until=None)
        raise


def _handle(event: InboundEvent) -> bool:
    if event.source == InboundEvent.Source.STRIPE:
        from webhooks.stripe_events import stripe_event_handle

        return stripe_event_handle(event.payload)
    if event.source == InboundEvent.Source.AIRALO:
        from webhooks.airalo import airalo_event_handle

        return airalo_event_handle(event)
    return False


def inbound_event_process(*, event_id: int) -> InboundEvent:
    """Run the handler of a stored event once: processed (or ignored when it is not for
    us), or failed with the error kept for operators to reprocess."""
    with transaction.atomic():
        event = inbound_event_qs_select_for_update().get(pk=event_id)
        if event.status in (S.PROCESSED, S.IGNORED):
            return event
        # queued_until: running, so a failure is due again on its own schedule.
        ran = {"attempts": event.attempts + 1, "queued_until": None}
        rows = InboundEvent.objects.filter(pk=event.pk)
        try:
            with transaction.atomic():
                handled = _handle(event)
        except Exception as exc:
            logger.exception("inbound event %s failed", event.pk)
            error = f"{type(exc).__name__}: {exc}"[:5000]
            # Under the row lock, from the status read (a failed run stays failed).
            inbound_move(rows, to=S.FAILED, expected=event.status, error=error, **ran)
            event.refresh_from_db()
            return event
        done = S.PROCESSED if handled else S.IGNORED
        inbound_move(
            rows, to=done, expected=event.status, error="", processed_at=timezone.now(), **ran
        )
        event.refresh_from_db()
        return event


def inbound_event_reprocess(*, event_id: int) -> InboundEvent:
    """Operators: run a stored event's handler again (handlers are idempotent)."""
    inbound_move(
        InboundEvent.objects.filter(pk=event_id),
        to=S.RECEIVED,
        expected=INBOUND_STATES.actions["reprocess"],
    )
    return inbound_event_process(event_id=event_id)


def inbound_events_due(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    """Stripe and Airalo events to run again: stored but never processed, or failed and due again
    (2^attempts minutes after receipt), until REDRIVE_MAX_ATTEMPTS; and not queued already
    (their marker void: ttelgo/queues.py). Each is marked queued in this transaction
    (`FOR UPDATE SKIP LOCKED`): queued once per lease, by one sweep."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.ORDERS_QUEUED_LEASE_SECONDS)
    with transaction.atomic():
        rows = (
            inbound_event_qs_select_for_update(skip_locked=True)
            .filter(
                source__in=(InboundEvent.Source.STRIPE, InboundEvent.Source.AIRALO),
                status__in=(S.RECEIVED, S.FAILED),
                attempts__lt=REDRIVE_MAX_ATTEMPTS,
                received_at__lte=now - REDRIVE_GRACE,
            )
            .filter(queued_marker_void("queued_until", lease=lease, epoch=queues_epoch(), now=now))
            .order_by("id")
            .only("pk", "status", "received_at", "attempts")[:limit]
        )
        due = [
            e.pk
            for e in rows
            if e.status == S.RECEIVED or e.received_at + timedelta(minutes=2**e.attempts) <= now
        ]
        InboundEvent.objects.filter(pk__in=due).update(queued_until=_queued_until())
    return due


def inbound_events_queue_due() -> int:
    """Queue every event `inbound_events_due` marks, once the marking commits; how many."""
    with transaction.atomic():
        due = inbound_events_due()
        for event_pk in due:
            transaction.on_commit(
                lambda pk=event_pk: _process_later(pk),  # type: ignore[misc]
                robust=True,
            )
    return len(due)
