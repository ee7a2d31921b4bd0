"""Transient faults: a dependency that is down, or a transaction that lost a conflict.

Neither is the client's fault nor a bug, so neither may become a 500:

* a **conflict** (PostgreSQL `deadlock_detected` 40P01 or `serialization_failure` 40001)
  means the whole unit of work can simply run again: `ttelgo.middleware.
  ConflictRetryMiddleware` re-runs the request (bounded, jittered) before anyone sees it;
* an **outage** (the database or Redis refuses connections or times out, a lock or
  statement timeout) is answered 503 `temporarily_unavailable` with `Retry-After`
  (`ttelgo.views`). Every request's writes are in one transaction and an idempotency
  key is released on a 5xx, so the client may retry with the same key.

Celery tasks get the same treatment from `ttelgo.task_base.ResilientTask`: database faults
retry the task with backoff at once.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

CONFLICT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock, serialization failure
# Re-runs of a request that lost a conflict, after the first run; jittered backoff.
REQUEST_RETRIES = 4
RETRY_BASE_SECONDS = 0.02
RETRY_AFTER_SECONDS = 1  # what a 503 tells the client to wait
# Database faults a task retries at once (with backoff) instead of failing.
DATABASE_FAULTS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError)
OUTAGES: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    KombuOperationalError,
)
CONFLICT_FLAG = "ttelgo_transaction_conflict"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE behind a database error (Django wraps the driver's exception)."""
    for link in _chain(exc):
        state = getattr(link, "sqlstate", None) or getattr(link, "pgcode", None)
        if state:
            return str(state)
    return None


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, DatabaseError) and sqlstate(exc) in CONFLICT_SQLSTATES


def is_transient(exc: BaseException) -> bool:
    """A conflict or an outage: answer 503 (after retries), never 500."""
    return is_conflict(exc) or isinstance(exc, OUTAGES)


def mark_conflict(request: Any) -> None:
    """Tell `ConflictRetryMiddleware` this run lost a conflict and may run again."""
    raw = getattr(request, "_request", request)  # a DRF Request wraps the HttpRequest
    setattr(raw, CONFLICT_FLAG, True)


def current_transient_exception() -> BaseException | None:
    """The exception being handled, if it is transient (for handler500)."""
    exc = sys.exc_info()[1]
    return exc if exc is not None and is_transient(exc) else None
