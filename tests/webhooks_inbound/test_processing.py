"""Processing stored events: once, ignored when not ours, failures kept and redriven."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from webhooks.inbound import (
    REDRIVE_MAX_ATTEMPTS,
    inbound_event_process,
    inbound_event_store,
    inbound_events_due,
)
from webhooks.models import InboundEvent
from webhooks.tasks import inbound_events_redrive

pytestmark = pytest.mark.django_db


def _stored(event_id: str, **fields) -> InboundEvent:
    event, _ = inbound_event_store(
        source="stripe",
        event_id=event_id,
        event_type="customer.created",
        payload={"id": event_id, "object": "event", "type": "customer.created", "data": {}},
    )
    if fields:
        InboundEvent.objects.filter(pk=event.pk).update(**fields)
        event.refresh_from_db()
    return event


def test_unknown_event_types_are_ignored_and_processed_once():
    event = _stored("evt_customer")
    assert inbound_event_process(event_id=event.pk).status == InboundEvent.Status.IGNORED
    again = inbound_event_process(event_id=event.pk)
    assert (again.status, again.attempts) == (InboundEvent.Status.IGNORED, 1)


def test_handler_errors_are_kept_on_the_event():
    event = _stored("evt_boom")
    with mock.patch("webhooks.stripe_events.stripe_event_handle", side_effect=RuntimeError("x")):
        failed = inbound_event_process(event_id=event.pk)
    assert (failed.status, failed.attempts) == (InboundEvent.Status.FAILED, 1)
    assert failed.error == "RuntimeError: x"
    assert failed.processed_at is None


def test_redrive_picks_lost_and_due_failed_events_only(django_capture_on_commit_callbacks):
    now = timezone.now()
    long_ago = now - timedelta(hours=1)
    # Their tasks ran (failed) or were lost long ago: no marker left.
    lost = _stored("evt_lost", received_at=long_ago, queued_until=None)
    due = _stored(
        "evt_due",
        status="failed",
        attempts=2,
        received_at=now - timedelta(minutes=5),
        queued_until=None,
    )
    _stored("evt_fresh")  # its own task is about to run
    _stored("evt_queued", received_at=long_ago)  # its task waits in a backlog: still queued
    _stored(
        "evt_backoff",
        status="failed",
        attempts=3,
        received_at=now - timedelta(minutes=5),
        queued_until=None,
    )
    _stored("evt_gave_up", status="failed", attempts=REDRIVE_MAX_ATTEMPTS, received_at=long_ago)
    _stored("evt_done", status="processed", received_at=long_ago)

    with transaction.atomic():
        assert inbound_events_due(now=now) == [lost.pk, due.pk]
        transaction.set_rollback(True)  # only looking: they stay unqueued

    with django_capture_on_commit_callbacks(execute=True):
        assert inbound_events_redrive() == 2
    with mock.patch("webhooks.tasks.inbound_event_process_task.delay") as delay:
        assert inbound_events_redrive() == 0  # queued once: the next sweep leaves them alone
    delay.assert_not_called()
    lost.refresh_from_db()
    due.refresh_from_db()
    assert (lost.status, lost.attempts) == ("ignored", 1)
    assert (due.status, due.attempts) == ("ignored", 3)
