"""A hung Redis (it accepts connections and never answers) costs a provider call at most one
short Redis timeout: the circuit breaker and the rate limiter then keep local state for
`PROVIDER_REDIS_COOLDOWN_SECONDS` before they try Redis again.

Counted, not timed: every Redis attempt against the hung server is one connection (a
connection whose command timed out is dropped), and the connections wait in the listener's
accept queue, which the test drains and counts. The clock is a fake one.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pybreaker
import pytest
from django.test import override_settings

from providers.ratelimit import RedisLimiter
from providers.resilience import build_breaker, provider_redis_client

COOLDOWN = 30.0


class HungRedis:
    """A listening socket nobody reads: connections complete (the kernel accepts them into
    the backlog) and every command waits for the client's timeout."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.setblocking(False)
        self.url = f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"
        self.seen = 0

    def attempts(self) -> int:
        """Connections made so far (each Redis attempt opens one)."""
        while True:
            try:
                conn, _ = self.listener.accept()
            except BlockingIOError:
                return self.seen
            conn.close()
            self.seen += 1

    def close(self) -> None:
        self.listener.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hung_redis() -> Iterator[HungRedis]:
    server = HungRedis()
    yield server
    server.close()


class Boom(Exception):
    pass


def _fail() -> None:
    raise Boom("provider down")


@override_settings(PROVIDER_REDIS_COOLDOWN_SECONDS=COOLDOWN)
def test_a_hung_redis_costs_the_breaker_one_attempt_per_cool_down(hung_redis):
    clock = FakeClock()
    breaker = build_breaker(
        name="hung-redis-test", fail_max=3, reset_timeout=60, redis_url=hung_redis.url, clock=clock
    )
    assert hung_redis.attempts() == 1  # building it tried Redis once
    for _ in range(5):
        assert breaker.call(lambda: "provider answered") == "provider answered"
    assert hung_redis.attempts() == 1  # within the cool-down: local state, no Redis

    clock.now += COOLDOWN + 1
    assert breaker.call(lambda: "provider answered") == "provider answered"
    assert hung_redis.attempts() == 2  # one call tried Redis again, once
    assert breaker.call(lambda: "provider answered") == "provider answered"
    assert hung_redis.attempts() == 2


@override_settings(PROVIDER_REDIS_COOLDOWN_SECONDS=COOLDOWN)
def test_while_redis_hangs_the_breaker_counts_and_opens_locally(hung_redis):
    clock = FakeClock()
    breaker = build_breaker(
        name="hung-redis-open", fail_max=2, reset_timeout=60, redis_url=hung_redis.url, clock=clock
    )
    for _ in range(2):
        with pytest.raises(Boom):
            breaker.call(_fail)
    assert breaker.current_state == pybreaker.STATE_OPEN
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(lambda: "never sent")
    assert hung_redis.attempts() == 1


def test_a_hung_redis_costs_the_rate_limiter_one_attempt_per_cool_down(hung_redis):
    clock = FakeClock()
    limiter = RedisLimiter(
        name="hung-redis-limit",
        per_second=100,
        client=provider_redis_client(hung_redis.url),
        clock=clock,
        cooldown=COOLDOWN,
    )
    for _ in range(5):
        limiter.acquire(timeout=1.0)
    assert hung_redis.attempts() == 1
    clock.now += COOLDOWN + 1
    for _ in range(5):
        limiter.acquire(timeout=1.0)
    assert hung_redis.attempts() == 2
