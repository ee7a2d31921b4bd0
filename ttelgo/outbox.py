"""Transactional outbox for Celery tasks: nothing a committed change asked for is lost.

`task_enqueue("orders.tasks.order_provision", order.pk)` writes an `OutboxMessage` in the
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

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from ttelgo import sql
from ttelgo.models import OutboxMessage

logger = logging.getLogger(__name__)

# What a send can fail with when the broker is away.
BROKER_ERRORS: tuple[type[BaseException], ...] = (KombuOperationalError, RedisError, OSError)
# A row younger than this may still be on its way through its own on-commit send.
RELAY_GRACE = timedelta(seconds=10)
RELAY_BATCH = 500


def task_enqueue(task: str, *args: Any) -> None:
    """Queue `task(*args)` durably with the current transaction. `task` is the task's
    dotted path (its name); args are JSON values, ids."""
    message = sql.insert(OutboxMessage(task=task, args=list(args)))
    transaction.on_commit(lambda: _send_and_forget(message.pk, task, list(args)))


def _send(task: str, args: list[Any]) -> None:
    # Task names are their dotted paths. Through the task object (not send_task), so eager
    # mode and test doubles of `.delay` behave as they do for a direct call.
    import_string(task).delay(*args)


def _send_and_forget(pk: int, task: str, args: list[Any]) -> None:
    try:
        _send(task, args)
    except BROKER_ERRORS as exc:
        logger.warning("outbox: %s(%s) not sent, the relay will: %s", task, args, exc)
        return
    try:
        OutboxMessage.objects.filter(pk=pk).delete()
    except Exception:  # the database went away after the send: the relay sends it again
        logger.warning("outbox: message %s sent but not deleted", pk, exc_info=True)


def outbox_relay(*, grace: timedelta = RELAY_GRACE, batch: int = RELAY_BATCH) -> int:
    """Send what was left behind, oldest first; the number sent. Rows are locked with
    SKIP LOCKED, so relays running at once share the work instead of doubling it."""
    sent = 0
    cutoff = timezone.now() - grace
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(created_at__lt=cutoff)
            .order_by("id")[:batch]
        )
        done: list[int] = []
        for row in rows:
            try:
                _send(row.task, row.args)
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


def outbox_pending() -> int:
    return OutboxMessage.objects.count()
