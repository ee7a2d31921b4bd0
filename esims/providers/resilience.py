"""Resilience for provider HTTP clients: a circuit breaker shared across processes through
Redis (pybreaker's CircuitRedisStorage) and `Retry-After` parsing."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import pybreaker
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from ttelgo.metrics import PROVIDER_CIRCUIT_OPEN

from .base import ProviderError

logger = logging.getLogger(__name__)


class _StateLogger(pybreaker.CircuitBreakerListener):
    """Operators need to see a provider being cut off and let back in."""

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        old = getattr(old_state, "name", old_state)
        logger.warning("circuit %s: %s -> %s", cb.name, old, new_state.name)
        PROVIDER_CIRCUIT_OPEN.labels(breaker=cb.name or "provider").set(
            1 if new_state.name == pybreaker.STATE_OPEN else 0
        )


_breakers: dict[str, pybreaker.CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def _is_system_failure(exc: BaseException) -> bool:
    if getattr(exc, "self_imposed", False):
        return False  # our own rate limiter refused: the provider never saw the call
    return not isinstance(exc, ProviderError) or exc.transient


class _RedisStorage(pybreaker.CircuitRedisStorage):
    """pybreaker's shared Redis storage, except that Redis being unreachable when the
    breaker is built is not an error either (every other read and write already falls
    back to a closed circuit and logs)."""

    def _initialize_redis_state(self, state: str) -> None:
        try:
            super()._initialize_redis_state(state)
        except redis.RedisError as exc:
            logger.warning("circuit breaker: Redis unavailable at start (%s)", exc)


def build_breaker(
    *, name: str, fail_max: int, reset_timeout: float, redis_url: str | None = None
) -> pybreaker.CircuitBreaker:
    """A breaker that only counts transient failures (a 400 says nothing about health)."""
    redis_url = settings.REDIS_URL if redis_url is None else redis_url
    storage: pybreaker.CircuitBreakerStorage
    if redis_url:
        # A hung Redis must not hang the provider call behind it: half a second per try,
        # then pybreaker falls back to a closed circuit. One quick retry, on a fresh
        # connection: after a Redis restart the pooled connections are dead, and the
        # breaker's shared state should not be skipped for that alone.
        client = redis.Redis.from_url(
            redis_url,
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            retry=Retry(NoBackoff(), 1),
        )
        storage = _RedisStorage(pybreaker.STATE_CLOSED, client, namespace=name)
    else:
        storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
    return pybreaker.CircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_timeout,
        exclude=[lambda e: not _is_system_failure(e)],
        state_storage=storage,
        listeners=[_StateLogger()],
        name=name,
        throw_new_error_on_trip=False,
    )


def shared_breaker(*, name: str, fail_max: int, reset_timeout: float) -> pybreaker.CircuitBreaker:
    with _breakers_lock:
        if name not in _breakers:
            _breakers[name] = build_breaker(
                name=name, fail_max=fail_max, reset_timeout=reset_timeout
            )
        return _breakers[name]


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
