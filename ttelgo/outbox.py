"""Transactional outbox: domain events and Celery tasks; nothing a committed change asked
for is lost.

One way up. A lower layer that must tell a higher one records an outbox message naming
the higher layer's task, in its own transaction; it imports nothing of that layer. There
are no signals or in-process subscribers for this (one exception, for a reaction that
may refuse the change: README, "One way up").

Domain events. `event_record(vendor_id=, livemode=, type=, data=)` records that something happened
to a vendor (an order completed, an invoice was issued, ...) in the caller's
transaction: an outbox message for `webhooks.tasks.event_publish`, which stores the
event and one delivery per subscribed endpoint once that transaction has committed. The
event's id and time are fixed when it is recorded, so a message delivered twice
publishes one event.

Tasks.

`task_enqueue("fulfilment.tasks.order_provision", order.pk)` writes an `OutboxMessage` in the
caller's transaction. When that transaction commits, the task is sent to the broker and
the row deleted. If the broker cannot take it then (Redis down, a network blip, the
process killed between commit and send), the row stays, and `outbox_relay` (a beat job,
every few seconds) sends it once the broker answers again. Delivery is at least once: a
row whose send succeeded but whose delete did not is sent again, so every task queued
this way is idempotent (they take ids and re-check state).

Where Celery runs eagerly (the embedded default, tests), the task runs in the on-commit
callback as before and its own errors propagate; only broker errors are absorbed here.
"""

from __future__ import annotations

import json
import logging
import secrets
from contextlib import suppress
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from ttelgo.lock_objects import outbox_message_qs_select_for_update
from ttelgo.models import OutboxMessage
from ttelgo.queues import WEBHOOKS, queue_for, task_send

logger = logging.getLogger(__name__)

# What a send can fail with when the broker is away.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuOperationalError, RedisError, OSError)
# A row younger than this may still be on its way through its own on-commit send.
RELAY_GRACE = timedelta(seconds=10)
RELAY_BATCH = 500

# The events vendors can subscribe to (the public webhook vocabulary).
EVENT_TYPES: tuple[str, ...] = (
    "order.completed",
    "order.failed",
    "order.refunded",
    "esim.installed",
    "esim.bundle_started",
    "esim.usage_threshold",
    "esim.expiring",
    "esim.depleted",
    "esim.expired",
    "esim.revoked",
    "esim.deletion_scheduled",
    "esim.auto_topup",
    "wallet.topup_succeeded",
    "wallet.low_balance",
    "invoice.issued",
    # IoT SIM fleets (iot/): quota alerts, replies and status moves of a vendor's SIMs.
    "sim.quota_threshold",
    "sim.quota_exhausted",
    "sim.sms_received",
    "sim.status_changed",
)


EVENT_PUBLISH_TASK = "webhooks.tasks.event_publish"


def event_record(*, vendor_id: int, livemode: bool, type: str, data: dict[str, Any]) -> None:
    """Record a domain event for a vendor. Call it inside your own transaction: the event
    is published (stored, with its deliveries) only once that transaction commits. Its
    data is fixed now, as JSON (no surprises from Decimals or datetimes later)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    clean = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    public_id = "msg_" + secrets.token_hex(12)
    task_enqueue(
        EVENT_PUBLISH_TASK,
        vendor_id,
        type,
        clean,
        public_id,
        timezone.now().isoformat(),
        # A test environment's event is published by test mode's workers, never the live ones.
        queue=queue_for(WEBHOOKS, livemode=livemode),
    )


def task_enqueue(task: str, *args: Any, queue: str = "") -> None:
    """Queue `task(*args)` durably with the current transaction. `task` is the task's
    dotted path (its name); args are JSON values, ids. `queue`: where it goes when that
    depends on the call (a test-mode order's provisioning); else the task's route."""
    message = OutboxMessage.objects.create(task=task, args=list(args), queue=queue)
    transaction.on_commit(lambda: _send_and_forget(message.pk, task, list(args), queue))


def _send(task: str, args: list[Any], queue: str = "") -> None:
    # By registered name, through the task object (not send_task), so eager mode and test
    # doubles of `.delay` behave as they do for a direct call. A task that moves to another
    # module keeps its name, so rows queued before the move still resolve.
    task_send(task_resolve(task), args, queue=queue)


def task_resolve(name: str) -> Any:
    """The registered task of that name. A web process has imported no tasks module
    until it sends its first task: import the module the name points at (where the task
    lives unless it moved), else every app's tasks module."""
    registry = current_app.tasks
    if name not in registry:
        with suppress(ImportError):
            import_module(name.rpartition(".")[0])
    if name not in registry:
        current_app.loader.import_default_modules()
    return registry[name]


def _send_and_forget(pk: int, task: str, args: list[Any], queue: str = "") -> None:
    try:
        _send(task, args, queue)
    except BROKER_ERRORS as exc:
        logger.warning("outbox: %s(%s) not sent, the relay will: %s", task, args, exc)
        return
    try:
        OutboxMessage.objects.filter(pk=pk).delete()
    except Exception:  # the database went away after the send: the relay sends it again
        logger.warning("outbox: message %s sent but not deleted", pk, exc_info=True)


def outbox_relay(*, grace: timedelta = RELAY_GRACE, batch: int = RELAY_BATCH) -> int:
    """Send what was left behind, oldest first; the number sent. Rows are locked with
    SKIP LOCKED, so relays running at once share the work instead of doubling it.

    Where Celery runs eagerly (the embedded default) a send runs the task itself, which
    may call the provider or the gateway and opens its own durable transactions: there
    each task runs outside any transaction and its row is deleted after it ran (one
    in-process schedule runs the relay, so no second relay shares the rows)."""
    cutoff = timezone.now() - grace
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return _relay_eager(cutoff=cutoff, batch=batch)
    sent = 0
    with transaction.atomic():
        rows = list(
            outbox_message_qs_select_for_update(skip_locked=True)
            .filter(created_at__lt=cutoff)
            .order_by("id")[:batch]
        )
        done: list[int] = []
        for row in rows:
            try:
                _send(row.task, row.args, row.queue)
            except BROKER_ERRORS as exc:
                OutboxMessage.objects.filter(pk=row.pk).update(
                    attempts=row.attempts + 1, last_error=str(exc)[:500]
                )
                logger.warning("outbox relay: broker still unavailable: %s", exc)
                break
            done.append(row.pk)
            sent += 1
        OutboxMessage.objects.filter(pk__in=done).delete()
    return sent


def _relay_eager(*, cutoff: datetime, batch: int) -> int:
    sent = 0
    for row in OutboxMessage.objects.filter(created_at__lt=cutoff).order_by("id")[:batch]:
        try:
            _send(row.task, row.args, row.queue)
        except BROKER_ERRORS as exc:
            OutboxMessage.objects.filter(pk=row.pk).update(
                attempts=row.attempts + 1, last_error=str(exc)[:500]
            )
            logger.warning("outbox relay: broker still unavailable: %s", exc)
            break
        OutboxMessage.objects.filter(pk=row.pk).delete()
        sent += 1
    return sent


def outbox_pending() -> int:
    return OutboxMessage.objects.count()
