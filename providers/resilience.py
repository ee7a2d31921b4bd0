"""Resilience for provider HTTP clients: a circuit breaker shared across processes through
Redis (with local state while Redis does not answer) and `Retry-After` parsing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pybreaker
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from ttelgo.metrics import PROVIDER_CIRCUIT_OPEN

from .base import ProviderError

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


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
    if getattr(exc, "package_level", False):
        return False  # one package's operator is in maintenance, not the provider
    return not isinstance(exc, ProviderError) or exc.transient


def is_system_failure(exc: BaseException) -> bool:
    """Whether a failed call says something about the provider's health (what the breaker
    counts): not a refusal of the request, nor our own limiter, nor one operator's
    maintenance."""
    return _is_system_failure(exc)


# Redis calls of the breaker and the rate limiter wait this long for an answer, once: a
# hung Redis costs a provider call one short timeout, then `PROVIDER_REDIS_COOLDOWN_SECONDS`
# of local state before Redis is tried again.
REDIS_TIMEOUT_SECONDS = 0.5


def provider_redis_client(url: str) -> redis.Redis:
    """A Redis client for state shared by the provider clients' processes: a short timeout
    and no retry on a timeout, but one immediate retry on a fresh connection when the
    pooled one is dead (after a Redis restart), which costs no waiting."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )


class SharedBreakerStorage(pybreaker.CircuitBreakerStorage):
    """The breaker's state in Redis, shared by every process (the keys of pybreaker's
    `CircuitRedisStorage`), mirrored in this process's memory.

    When a Redis call fails (a hung Redis: one timeout), the breaker goes on with the
    mirrored local state for `cooldown` seconds without trying Redis, counting and opening
    on this process's calls alone; then one call tries Redis again. A provider call thus
    waits for at most one Redis timeout per cool-down, however many reads and writes of
    the state it makes."""

    def __init__(
        self,
        state: str,
        client: redis.Redis,
        *,
        namespace: str,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__("redis")
        self._redis = client
        self._namespace = namespace
        self._initial_state = str(state)
        self._cooldown = cooldown
        self._clock = clock
        self._local = pybreaker.CircuitMemoryStorage(state)
        self._redis_down_until: float | None = None
        self._shared(self._initialize_redis_state, lambda: None)

    def _key(self, key: str) -> str:
        return f"{self._namespace}:pybreaker:{key}"

    def _shared(self, remote: Callable[[], _T], local: Callable[[], _T]) -> _T:
        """`remote()` against Redis unless it failed within the cool-down; `local()` instead."""
        down_until = self._redis_down_until
        if down_until is not None:
            if self._clock() < down_until:
                return local()
            self._redis_down_until = None
        try:
            return remote()
        except redis.RedisError as exc:
            self._redis_down_until = self._clock() + self._cooldown
            logger.warning(
                "circuit %s: Redis unavailable (%s); this process keeps its own circuit"
                " state for %.0fs",
                self._namespace,
                exc,
                self._cooldown,
            )
            return local()

    def _initialize_redis_state(self, state: str | None = None) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.setnx(self._key("fail_counter"), 0)
        pipe.setnx(self._key("success_counter"), 0)
        pipe.setnx(self._key("state"), state or self._initial_state)
        pipe.execute()

    def _read_state(self) -> str:
        raw = self._redis.get(self._key("state"))
        if raw is None:  # the keys are gone (a Redis that restarted empty): start again
            self._initialize_redis_state(pybreaker.STATE_CLOSED)
            state = pybreaker.STATE_CLOSED
        else:
            state = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._local.state = state
        return state

    @property
    def state(self) -> str:
        return self._shared(self._read_state, lambda: self._local.state)

    @state.setter
    def state(self, state: str) -> None:
        self._local.state = state
        self._shared(lambda: self._redis.set(self._key("state"), str(state)), lambda: None)

    def _read_counter(self, key: str) -> int:
        return int(self._redis.get(self._key(key)) or 0)

    def increment_counter(self) -> None:
        self._local.increment_counter()
        self._shared(lambda: self._redis.incr(self._key("fail_counter")), lambda: None)

    def reset_counter(self) -> None:
        self._local.reset_counter()
        self._shared(lambda: self._redis.set(self._key("fail_counter"), 0), lambda: None)

    def increment_success_counter(self) -> None:
        self._local.increment_success_counter()
        self._shared(lambda: self._redis.incr(self._key("success_counter")), lambda: None)

    def reset_success_counter(self) -> None:
        self._local.reset_success_counter()
        self._shared(lambda: self._redis.set(self._key("success_counter"), 0), lambda: None)

    @property
    def counter(self) -> int:
        def remote() -> int:
            value = self._read_counter("fail_counter")
            self._local._fail_counter = value
            return value

        return self._shared(remote, lambda: self._local.counter)

    @property
    def success_counter(self) -> int:
        def remote() -> int:
            value = self._read_counter("success_counter")
            self._local._success_counter = value
            return value

        return self._shared(remote, lambda: self._local.success_counter)

    @property
    def opened_at(self) -> datetime | None:
        def remote() -> datetime | None:
            raw = self._redis.get(self._key("opened_at"))
            when = datetime.fromtimestamp(int(raw), UTC) if raw else None
            self._local._opened_at = when
            return when

        return self._shared(remote, lambda: self._local.opened_at)

    @opened_at.setter
    def opened_at(self, now: datetime) -> None:
        self._local.opened_at = now
        key, stamp = self._key("opened_at"), int(now.timestamp())

        def set_if_later(pipe: Any) -> None:
            current = pipe.get(key)
            pipe.multi()
            if not current or stamp > int(current):
                pipe.set(key, stamp)

        self._shared(lambda: self._redis.transaction(set_if_later, key), lambda: None)


def build_breaker(
    *,
    name: str,
    fail_max: int,
    reset_timeout: float,
    redis_url: str | None = None,
    redis_client: redis.Redis | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> pybreaker.CircuitBreaker:
    """A breaker that only counts transient failures (a 400 says nothing about health),
    its state shared through Redis when there is one (`SharedBreakerStorage`)."""
    redis_url = settings.REDIS_URL if redis_url is None else redis_url
    storage: pybreaker.CircuitBreakerStorage
    if redis_client is not None or redis_url:
        storage = SharedBreakerStorage(
            pybreaker.STATE_CLOSED,
            redis_client or provider_redis_client(redis_url),
            namespace=name,
            cooldown=settings.PROVIDER_REDIS_COOLDOWN_SECONDS,
            clock=clock,
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


# --- recent call outcomes (the operators' dashboard) ----------------------------------------

CALL_STATS_BUCKET_SECONDS = 60
CALL_STATS_KEEP_SECONDS = 3600
_stats_local: dict[tuple[str, int], list[int]] = {}
_stats_lock = threading.Lock()
_stats_client: redis.Redis | None = None
_stats_quiet_until = 0.0


def _stats_redis() -> redis.Redis | None:
    """The shared Redis for call outcomes, or None (no Redis, or one that just failed:
    this process counts alone for a cool-down)."""
    global _stats_client
    if not settings.REDIS_URL or time.monotonic() < _stats_quiet_until:
        return None
    if _stats_client is None:
        _stats_client = provider_redis_client(settings.REDIS_URL)
    return _stats_client


def _stats_failed() -> None:
    global _stats_quiet_until
    _stats_quiet_until = time.monotonic() + settings.PROVIDER_REDIS_COOLDOWN_SECONDS


def call_outcome_record(provider: str, *, failed: bool, now: float | None = None) -> None:
    """Count one logical provider call (all its retries) in its minute: a failure is one the
    breaker counts (the provider's health), not a business refusal. Shared by every
    process through Redis; never raises and costs at most one short Redis timeout."""
    bucket = int((now if now is not None else time.time()) // CALL_STATS_BUCKET_SECONDS)
    field = "failed" if failed else "ok"
    client = _stats_redis()
    if client is not None:
        key = f"ttelgo:provider-calls:{provider}:{bucket}"
        try:
            pipe = client.pipeline(transaction=False)
            pipe.hincrby(key, field, 1)
            pipe.expire(key, CALL_STATS_KEEP_SECONDS)
            pipe.execute()
            return
        except redis.RedisError:
            _stats_failed()
    with _stats_lock:
        counts = _stats_local.setdefault((provider, bucket), [0, 0])
        counts[1 if failed else 0] += 1
        oldest = bucket - CALL_STATS_KEEP_SECONDS // CALL_STATS_BUCKET_SECONDS
        for stale in [k for k in _stats_local if k[1] < oldest]:
            del _stats_local[stale]


def call_outcomes(provider: str, *, minutes: int = 15, now: float | None = None) -> tuple[int, int]:
    """(calls, failed) of the last `minutes` minutes."""
    last = int((now if now is not None else time.time()) // CALL_STATS_BUCKET_SECONDS)
    buckets = range(last - minutes + 1, last + 1)
    client = _stats_redis()
    if client is not None:
        try:
            pipe = client.pipeline(transaction=False)
            for bucket in buckets:
                pipe.hmget(f"ttelgo:provider-calls:{provider}:{bucket}", "ok", "failed")
            rows = pipe.execute()
            ok = sum(int(r[0] or 0) for r in rows)
            failed = sum(int(r[1] or 0) for r in rows)
            return ok + failed, failed
        except redis.RedisError:
            _stats_failed()
    with _stats_lock:
        rows = [_stats_local.get((provider, b), [0, 0]) for b in buckets]
    ok, failed = sum(r[0] for r in rows), sum(r[1] for r in rows)
    return ok + failed, failed
