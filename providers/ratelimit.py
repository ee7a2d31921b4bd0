"""A rate limit on calls to an upstream provider, shared by every process that calls it.

eSIM Go allows 10 requests/s per source IP; every web and Celery worker process calls it
from the same address, so the cap must hold for all of them together. The limiter is a
sliding-window log in Redis: one sorted set per provider whose members are the grants of
the last window, trimmed and counted by one Lua script (atomic, so two processes can never
both take the last slot). Time is Redis's own clock, so workers with drifting clocks still
agree. Without Redis (the embedded default), or while Redis is unreachable, an in-process
window at the same rate keeps each process within the cap on its own: a Redis that fails
to answer costs one short timeout, then `PROVIDER_REDIS_COOLDOWN_SECONDS` on the local
window before Redis is tried again.

Live calls first. Background work that shares the cap (the stock refill) runs its provider
calls inside `calls_in_background(reserve)`: there a call takes a slot only while more than
`reserve` slots of the window are free, so live provisioning always finds those `reserve`
slots; background calls wait (or give up: `LocalRateLimited`) while live calls use them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

import redis
from django.conf import settings

from ttelgo.metrics import RATE_LIMITER_WAIT_SECONDS, RATE_LIMITER_WAITS
from ttelgo.slidingwindow import SLIDING_WINDOW_LUA, sliding_window_take

from .base import ProviderRateLimited
from .resilience import provider_redis_client

logger = logging.getLogger(__name__)

# A granted call reaches the provider some time later, and on a busy machine two grants a
# second apart can arrive closer than that: `make bench` saw 11 calls in one second with a
# 20 ms guard. Counting the cap over 1.1 s absorbs up to 100 ms of that jitter (sustained
# rate 10/1.1 = 9.1/s).
WINDOW_GUARD_SECONDS = 0.1
MAX_POLL_SECONDS = 0.25


# Slots of the window a call in this context leaves free for live calls (0: a live call).
_reserve: ContextVar[int] = ContextVar("provider_rate_reserve", default=0)


@contextmanager
def calls_in_background(reserve: int) -> Iterator[None]:
    """Provider calls made inside take a rate-limit slot only while more than `reserve`
    slots are free: they never take the last `reserve` slots from live work."""
    token = _reserve.set(max(0, reserve))
    try:
        yield
    finally:
        _reserve.reset(token)


def _limit_here(limit: int) -> int:
    """The slots a call in this context may fill: all for a live call, `limit - reserve`
    (at least one) in the background."""
    reserve = _reserve.get()
    return limit if reserve <= 0 else max(1, limit - reserve)


class RateLimiter(Protocol):
    def acquire(self, *, timeout: float | None = None) -> None: ...


def _window_limit(per_second: float, window: float) -> int:
    """Calls allowed per window (at least one); a hair of slack for 5 / 60 * 60."""
    return max(1, int(per_second * (window - WINDOW_GUARD_SECONDS) + 1e-9))


def per_minute(*, name: str, limit: float, redis_url: str | None = None) -> RateLimiter:
    """At most `limit` calls per minute from every process together (0: no limit)."""
    return shared_limiter(
        name=name, per_second=limit / 60, redis_url=redis_url, window=60 + WINDOW_GUARD_SECONDS
    )


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
        self.limit = _window_limit(per_second, window)
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
            limit = _limit_here(self.limit)
            if len(self.grants) < limit:
                self.grants.append(now)
                return 0.0
            # A slot frees when enough grants leave the window to bring it below `limit`.
            return max(self.grants[len(self.grants) - limit] + self.window - now, 0.001)

    def acquire(self, *, timeout: float | None = None) -> None:
        started = self.clock()
        while (wait := self.try_acquire()) > 0:
            waited = self.clock() - started
            if timeout is not None and waited + wait > timeout:
                raise _waited_too_long(self.name, waited, wait)
            self.sleep(min(wait, MAX_POLL_SECONDS))
        _waits_count(self.name, self.clock() - started)


class RedisLimiter:
    """The limit shared through Redis by every process; `LocalLimiter` while Redis is down."""

    def __init__(
        self,
        *,
        name: str,
        per_second: float,
        client: redis.Redis,
        window: float = 1.0 + WINDOW_GUARD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        cooldown: float | None = None,
    ) -> None:
        self.name = name
        self.key = f"ttelgo:ratelimit:{name}"
        self.limit = _window_limit(per_second, window)
        self.window = window
        self.client = client
        self.script = client.register_script(SLIDING_WINDOW_LUA)
        self.clock = clock
        self.sleep = sleep
        self.cooldown = settings.PROVIDER_REDIS_COOLDOWN_SECONDS if cooldown is None else cooldown
        self.fallback = LocalLimiter(
            name=name, per_second=per_second, window=window, clock=clock, sleep=sleep
        )
        self.redis_down_until: float | None = None

    def try_acquire(self) -> float:
        down_until = self.redis_down_until
        if down_until is not None and self.clock() < down_until:
            return self.fallback.try_acquire()
        try:
            return sliding_window_take(
                self.script, key=self.key, window_seconds=self.window, limit=_limit_here(self.limit)
            )
        except redis.RedisError as exc:
            # Do not pay a failed Redis call per provider call: try again after a cool-down.
            self.redis_down_until = self.clock() + self.cooldown
            logger.warning(
                "rate limiter %s: Redis unavailable (%s); limiting this process only for %.0fs",
                self.name,
                exc,
                self.cooldown,
            )
            return self.fallback.try_acquire()

    def acquire(self, *, timeout: float | None = None) -> None:
        started = self.clock()
        while (wait := self.try_acquire()) > 0:
            waited = self.clock() - started
            if timeout is not None and waited + wait > timeout:
                raise _waited_too_long(self.name, waited, wait)
            # jitter: processes that were refused together do not all retry together
            self.sleep(min(wait, MAX_POLL_SECONDS) * random.uniform(1.0, 1.2))
        _waits_count(self.name, self.clock() - started)


def _waits_count(name: str, waited: float) -> None:
    if waited > 0.0005:  # a call that found a free slot did not wait
        RATE_LIMITER_WAITS.labels(limiter=name).inc()
        RATE_LIMITER_WAIT_SECONDS.labels(limiter=name).inc(waited)


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(
    *,
    name: str,
    per_second: float,
    redis_url: str | None = None,
    window: float = 1.0 + WINDOW_GUARD_SECONDS,
) -> RateLimiter:
    """The process's limiter for `name` (one Redis client per process, reused). A limit per
    minute is `per_second=n / 60` with `window=60 + WINDOW_GUARD_SECONDS` (`per_minute`)."""
    url = settings.REDIS_URL if redis_url is None else redis_url
    with _limiters_lock:
        key = f"{name}|{per_second}|{url}|{window}"
        if key not in _limiters:
            limiter: RateLimiter
            if per_second <= 0:
                limiter = UnlimitedLimiter()
            elif url:
                limiter = RedisLimiter(
                    name=name,
                    per_second=per_second,
                    client=provider_redis_client(url),
                    window=window,
                )
            else:
                limiter = LocalLimiter(name=name, per_second=per_second, window=window)
            _limiters[key] = limiter
        return _limiters[key]
