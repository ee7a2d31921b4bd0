"""Celery queues, the worker pools that consume them, and the "queued once per lease" rule.

One tenant must never stall the others, so work is split by what it waits on:

- `provisioning`: live orders and top-ups, provider callbacks, Stripe events, card
  refunds and the emails that follow an order (waits on the provider and SMTP);
- `webhooks`: live webhook deliveries (each may wait WEBHOOKS_TIMEOUT_SECONDS on a
  vendor's server);
- `test`: all test-mode provisioning and webhook deliveries, decided per call by the
  object's `livemode` (`queue_for`): a test key cannot slow a live order down;
- `maintenance`: beat's periodic jobs (catalogue sync, usage refresh, invoices, the
  delivery guarantee, reconciliation...), some of which run for minutes;
- `recovery`: the sweeps that send lost or due work again (the outbox relay, the order
  re-drive, due webhook deliveries, the inbound-event re-drive). Its own pool, so a
  recovery never waits behind the backlog it recovers.

Each queue has its own worker pool (`POOLS`; docker-compose.yml runs one service per
pool). Static routes are CELERY_TASK_ROUTES (config/settings/base.py); the two tasks whose
queue depends on livemode are sent with an explicit queue.

Queued once per lease. An item due for work (an order to provision, a webhook delivery)
carries a `queued_until` marker, set in the same statement or locked transaction that
selects it for queueing and cleared when a worker starts on it; a sweep only queues an
item whose marker is void. A marker is void once its lease is over, or when it was set
before the queue epoch (`queues_epoch`): the moment the broker may have lost queued
tasks, i.e. its data is gone (Redis restarted empty: the epoch key is missing) or a
worker of the provisioning, webhooks or test pool started (a killed worker's reserved
tasks are only given out again after the broker's visibility timeout, an hour).
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

logger = logging.getLogger(__name__)

PROVISIONING = "provisioning"
WEBHOOKS = "webhooks"
TEST = "test"
MAINTENANCE = "maintenance"
RECOVERY = "recovery"
QUEUES: tuple[str, ...] = (PROVISIONING, WEBHOOKS, TEST, MAINTENANCE, RECOVERY)

# One worker pool per queue: the pool's name and the queues it consumes (`-Q`).
POOLS: dict[str, tuple[str, ...]] = {queue: (queue,) for queue in QUEUES}

# The broker key whose value is the queue epoch (a Unix time); it lives and dies with the
# broker's data, so a broker that lost its queues has lost it too.
EPOCH_KEY = "ttelgo:queues:epoch"
# The Redis server process (`INFO server` run_id) the epoch was last checked against.
RUN_ID_KEY = "ttelgo:queues:run_id"


def queue_for(queue: str, *, livemode: bool) -> str:
    """The queue of a live item's work, or `test` for a test-mode item's."""
    return queue if livemode else TEST


def task_send(task: Any, args: list[Any] | tuple[Any, ...], *, queue: str = "") -> None:
    """Send a task to `queue`, or by its route when that is where it goes anyway (through
    `.delay`, as every caller without a queue does)."""
    routed = settings.CELERY_TASK_ROUTES.get(task.name, {}).get("queue")
    if not queue or queue == routed:
        task.delay(*args)
    else:
        task.apply_async(args=list(args), queue=queue)


def _broker_client() -> Any:
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")) or settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def queues_epoch(*, client: Any = None) -> datetime | None:
    """Since when queued tasks may have been lost: markers set before it are void. A broker
    without the epoch key lost its data: the epoch is when that Redis started. A broker
    that restarted on its append-only file kept the key but may have lost its last second
    of writes (the file is synced once a second) and what its consumers had reserved: a
    new server process (its `run_id`) moves the epoch to when it started. None when there
    is no broker (eager Celery) or it does not answer (the sweep then goes by the leases
    alone, and its sends fail anyway)."""
    from redis.exceptions import RedisError

    client = client or _broker_client()
    if client is None:
        return None
    try:
        server = client.info("server")
        started = time.time() - int(server["uptime_in_seconds"])
        run_id = str(server.get("run_id", ""))
        raw = client.get(EPOCH_KEY)
        if raw is None:
            client.set(EPOCH_KEY, repr(started), nx=True)
        elif run_id and (client.get(RUN_ID_KEY) or b"").decode() != run_id:
            # Never earlier than a worker start marked meanwhile.
            client.set(EPOCH_KEY, repr(max(float(raw), started)))
        if run_id:
            client.set(RUN_ID_KEY, run_id)
        raw = client.get(EPOCH_KEY)
        return datetime.fromtimestamp(float(raw), tz=UTC)
    except (RedisError, OSError, ValueError, TypeError, KeyError):
        logger.warning("queue epoch: the broker did not answer", exc_info=True)
        return None


def queues_epoch_mark(*, client: Any = None) -> None:
    """A worker started: what a killed one had reserved may be stuck in the broker, so
    every marker set before now is void (those items are queued once more)."""
    from redis.exceptions import RedisError

    client = client or _broker_client()
    if client is None:
        return
    try:
        client.set(EPOCH_KEY, repr(time.time()))
    except (RedisError, OSError):
        logger.warning("queue epoch: not marked", exc_info=True)


def queued_marker_void(
    field: str, *, lease: timedelta, epoch: datetime | None, now: datetime | None = None
) -> Q:
    """Items whose `field` marker is void: never set, past its lease, or set before the
    queue `epoch` (`queues_epoch()`; set at t, the marker is t + lease)."""
    now = now or timezone.now()
    threshold = max(now, epoch + lease) if epoch is not None else now
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": threshold})


def queued_marker_lost(field: str, *, lease: timedelta, epoch: datetime | None) -> Q:
    """Items whose task was queued before the queue `epoch`: lost with the broker's data
    (or held by a worker that is gone), so there is nothing to wait for."""
    if epoch is None:
        return Q(pk__in=[])
    return Q(**{f"{field}__lt": epoch + lease})


def publish_log(*, body: Any, headers: dict[str, Any], routing_key: str) -> None:
    """With TASKS_PUBLISH_LOG set (the chaos suite), append one JSON line per task sent:
    its name, args, retry count and queue, so tasks queued per item can be counted across
    every process. Lines under PIPE_BUF are written whole by O_APPEND."""
    path = os.environ.get("TASKS_PUBLISH_LOG")
    if not path:
        return
    args = body[0] if isinstance(body, list | tuple) and body else []
    line = json.dumps(
        {
            "task": headers.get("task"),
            "args": args,
            "retries": headers.get("retries") or 0,
            "queue": routing_key,
            "at": time.time(),
        },
        default=str,
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
