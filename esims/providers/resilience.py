"""Resilience for provider HTTP clients: a circuit breaker shared across processes through
Redis (pybreaker's CircuitRedisStorage) and `Retry-After` parsing."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

import pybreaker
from django.conf import settings

from .base import ProviderError

logger = logging.getLogger(__name__)


class _StateLogger(pybreaker.CircuitBreakerListener):
    """Operators need to see a provider being cut off and let back in."""

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        old = getattr(old_state, "name", old_state)
        logger.warning("circuit %s: %s -> %s", cb.name, old, new_state.name)


_breakers: dict[str, pybreaker.CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def _is_system_failure(exc: BaseException) -> bool:
    if getattr(exc, "self_imposed", False):
        return False  # our own rate limiter refused: the provider never saw the call
    return not isinstance(exc, ProviderError) or exc.transient


def build_breaker(
    *, name: str, fail_max: int, reset_timeout: float, redis_url: str | None = None
) -> pybreaker.CircuitBreaker:
    """A breaker that only counts transient failures (a 400 says nothing about health)."""
    redis_url = settings.REDIS_URL if redis_url is None else redis_url
    storage: pybreaker.CircuitBreakerStorage
    if redis_url:
        import redis

        storage = pybreaker.CircuitRedisStorage(
            pybreaker.STATE_CLOSED, redis.Redis.from_url(redis_url), namespace=name
        )
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
