"""A rate limit on calls to an upstream provider, shared by every process that calls it.

eSIM Go allows 10 requests/s per source IP; every web and Celery worker process calls it
from the same address, so the cap must hold for all of them together. The limiter is a
sliding-window log in Redis: one sorted set per provider whose members are the grants of
the last window, trimmed and counted by one Lua script (atomic, so two processes can never
both take the last slot). Time is Redis's own clock, so workers with drifting clocks still
agree. Without Redis (the embedded default), or while Redis is unreachable, an in-process
window at the same rate keeps each process within the cap on its own.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Protocol

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from .base import ProviderRateLimited

logger = logging.getLogger(__name__)

# Returns 0 when a slot was taken, else the microseconds until the oldest grant leaves the
# window (when a slot may free up).
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], math.floor(window / 1000) + 1000)
    return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""

# A granted call reaches the provider some time later, and on a busy machine two grants a
# second apart can arrive closer than that: `make bench` saw 11 calls in one second with a
# 20 ms guard. Counting the cap over 1.1 s absorbs up to 100 ms of that jitter (sustained
# rate 10/1.1 = 9.1/s).
WINDOW_GUARD_SECONDS = 0.1
MAX_POLL_SECONDS = 0.25
REDIS_RETRY_SECONDS = 5.0


class RateLimiter(Protocol):
    def acquire(self, *, timeout: float | None = None) -> None: ...


class UnlimitedLimiter:
    """No limit (rate 0 in the settings): tests and providers without one."""

    def acquire(self, *, timeout: float | None = None) -> None:
        return None


class LocalRateLimited(ProviderRateLimited):
    """Our own limiter had no slot in time. The provider never saw the call, so it is safe
    to retry (even an order) and says nothing about the provider's health (the circuit
    breaker ignores it)."""

    self_imposed = True


def _waited_too_long(name: str, waited: float, retry_after: float) -> LocalRateLimited:
    return LocalRateLimited(
        f"{name}: no provider call slot free after {waited:.1f}s (local rate limit)",
        retry_after=retry_after,
        request_sent=False,  # the provider never saw it: safe to retry, even an order
    )


class LocalLimiter:
    """The same sliding window, for the threads of one process."""

    def __init__(
        self,
        *,
        name: str,
        per_second: float,
        window: float = 1.0 + WINDOW_GUARD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.limit = max(1, int(per_second * (window - WINDOW_GUARD_SECONDS)))
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self.grants: deque[float] = deque()
        self.lock = threading.Lock()

    def try_acquire(self) -> float:
        """0.0 when a slot was taken, else the seconds until one may free up."""
        with self.lock:
            now = self.clock()
            while self.grants and self.grants[0] <= now - self.window:
                self.grants.popleft()
            if len(self.grants) < self.limit:
                self.grants.append(now)
                return 0.0
            return max(self.grants[0] + self.window - now, 0.001)

    def acquire(self, *, timeout: float | None = None) -> None:
        started = self.clock()
        while (wait := self.try_acquire()) > 0:
            waited = self.clock() - started
            if timeout is not None and waited + wait > timeout:
                raise _waited_too_long(self.name, waited, wait)
            self.sleep(min(wait, MAX_POLL_SECONDS))


class RedisLimiter:
    """The limit shared through Redis by every process; `LocalLimiter` while Redis is down."""

    def __init__(
        self,
        *,
        name: str,
        per_second: float,
        client: redis.Redis,
        window: float = 1.0 + WINDOW_GUARD_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.key = f"ttelgo:ratelimit:{name}"
        self.limit = max(1, int(per_second * (window - WINDOW_GUARD_SECONDS)))
        self.window_us = int(window * 1_000_000)
        self.client = client
        self.script = client.register_script(_ACQUIRE_LUA)
        self.sleep = sleep
        self.fallback = LocalLimiter(name=name, per_second=per_second, window=window, sleep=sleep)
        self.redis_down_until = 0.0

    def try_acquire(self) -> float:
        if time.monotonic() < self.redis_down_until:
            return self.fallback.try_acquire()
        try:
            wait_us = int(
                self.script(keys=[self.key], args=[self.window_us, self.limit, uuid.uuid4().hex])
            )
        except redis.RedisError as exc:
            # Do not pay a failed connection per call: try Redis again after a pause.
            self.redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
            logger.warning(
                "rate limiter %s: Redis unavailable (%s); limiting this process only for %.0fs",
                self.name,
                exc,
                REDIS_RETRY_SECONDS,
            )
            return self.fallback.try_acquire()
        return wait_us / 1_000_000

    def acquire(self, *, timeout: float | None = None) -> None:
        started = time.monotonic()
        while (wait := self.try_acquire()) > 0:
            waited = time.monotonic() - started
            if timeout is not None and waited + wait > timeout:
                raise _waited_too_long(self.name, waited, wait)
            # jitter: processes that were refused together do not all retry together
            self.sleep(min(wait, MAX_POLL_SECONDS) * random.uniform(1.0, 1.2))


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(*, name: str, per_second: float, redis_url: str | None = None) -> RateLimiter:
    """The process's limiter for `name` (one Redis client per process, reused)."""
    url = settings.REDIS_URL if redis_url is None else redis_url
    with _limiters_lock:
        key = f"{name}|{per_second}|{url}"
        if key not in _limiters:
            limiter: RateLimiter
            if per_second <= 0:
                limiter = UnlimitedLimiter()
            elif url:
                client = redis.Redis.from_url(
                    url, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
                )
                limiter = RedisLimiter(name=name, per_second=per_second, client=client)
            else:
                limiter = LocalLimiter(name=name, per_second=per_second)
            _limiters[key] = limiter
        return _limiters[key]
