"""The provider rate limit holds for all processes together (real Redis), per process
without Redis, and the eSIM Go client takes a slot before every HTTP attempt."""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid

import pytest
import redis
import responses
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from providers.base import ProviderRateLimited
from providers.esimgo import EsimGoProvider
from providers.ratelimit import (
    LocalLimiter,
    LocalRateLimited,
    RedisLimiter,
    UnlimitedLimiter,
    calls_in_background,
    shared_limiter,
)
from providers.resilience import build_breaker

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (run `make test`)")


def max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best = lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _hammer(
    url: str, name: str, per_second: float, seconds: float, out: multiprocessing.Queue
) -> None:
    """One worker process: take slots as fast as the limiter gives them."""
    client = redis.Redis.from_url(url)
    limiter = RedisLimiter(name=name, per_second=per_second, client=client)
    grants = []
    end = time.time() + seconds
    while time.time() < end:
        limiter.acquire()
        grants.append(time.time())
    out.put(grants)


@needs_redis
def test_four_processes_together_never_exceed_the_rate():
    name = f"test-{uuid.uuid4().hex}"
    per_second, seconds = 20, 2.5
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_hammer, args=(settings.REDIS_URL, name, per_second, seconds, out))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    grants = [t for _ in procs for t in out.get(timeout=30)]
    for p in procs:
        p.join(timeout=10)
    # every process got slots, and together they used (almost) the whole allowance ...
    assert len(grants) >= per_second * (seconds - 0.6)
    # ... but no second ever saw more than the cap
    assert max_in_window(grants) <= per_second


@needs_redis
def test_a_caller_that_cannot_wait_gets_a_transient_error_the_provider_never_saw():
    client = redis.Redis.from_url(settings.REDIS_URL)
    limiter = RedisLimiter(name=f"test-{uuid.uuid4().hex}", per_second=2, client=client)
    limiter.acquire(timeout=0.1)
    limiter.acquire(timeout=0.1)
    with pytest.raises(ProviderRateLimited) as caught:
        limiter.acquire(timeout=0.1)
    assert caught.value.transient and not caught.value.request_sent
    assert 0 < (caught.value.retry_after or 0) <= 1.1


def test_without_redis_each_process_is_limited_on_its_own():
    limiter = shared_limiter(name=f"test-{uuid.uuid4().hex}", per_second=10, redis_url="")
    assert isinstance(limiter, LocalLimiter)
    grants: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            limiter.acquire()
            with lock:
                grants.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 10 <= len(grants) <= 30
    assert max_in_window(grants) <= 10


class CountingRedis(redis.Redis):
    """Counts the commands sent (or tried)."""

    commands = 0

    def execute_command(self, *args, **options):
        self.commands += 1
        return super().execute_command(*args, **options)


def test_unreachable_redis_falls_back_to_the_process_limit():
    client = CountingRedis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    limiter = RedisLimiter(name="down", per_second=3, client=client)
    assert [limiter.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.try_acquire() > 0  # the 4th within the second must wait
    assert client.commands == 1  # one failed Redis call, not one per call


def test_rate_zero_means_no_limit():
    assert isinstance(shared_limiter(name="none", per_second=0, redis_url=""), UnlimitedLimiter)


class CountingLimiter:
    def __init__(self) -> None:
        self.calls = 0

    def acquire(self, *, timeout: float | None = None) -> None:
        self.calls += 1


@responses.activate
def test_the_esimgo_client_takes_a_slot_before_every_attempt_retries_included():
    base = "https://esimgo.test/v2.4"
    responses.get(f"{base}/esims/8944500000000000001", status=503, json={"message": "busy"})
    responses.get(f"{base}/esims/8944500000000000001", json={"iccid": "8944500000000000001"})
    limiter = CountingLimiter()
    client = EsimGoProvider(api_key="k", base_url=base, limiter=limiter, sleep=lambda s: None)
    assert client.get_esim("8944500000000000001").iccid == "8944500000000000001"
    assert limiter.calls == 2  # one refused attempt, one that succeeded


class RefusingLimiter:
    def acquire(self, *, timeout: float | None = None) -> None:
        raise LocalRateLimited("no slot", retry_after=0.0, request_sent=False)


def test_our_own_refusals_never_open_the_circuit_breaker():
    breaker = build_breaker(
        name=f"test-{uuid.uuid4().hex}", fail_max=1, reset_timeout=60, redis_url=""
    )
    client = EsimGoProvider(
        api_key="k", base_url="https://esimgo.test/v2.4", limiter=RefusingLimiter(), breaker=breaker,
        max_attempts=1, sleep=lambda s: None,
    )  # fmt: skip
    for _ in range(3):
        with pytest.raises(LocalRateLimited):
            client.get_esim("8944500000000000001")
    assert breaker.current_state == "closed"


# --- live calls first: background calls leave a reserve ------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_background_call_leaves_the_reserve_to_live_calls_local():
    clock = FakeClock()
    limiter = LocalLimiter(name="reserve", per_second=10, clock=clock, sleep=lambda s: None)
    with calls_in_background(4):
        taken = sum(limiter.try_acquire() == 0.0 for _ in range(10))
    assert taken == 6  # 10 a window, 4 left for live calls
    assert sum(limiter.try_acquire() == 0.0 for _ in range(10)) == 4  # live: the reserve
    with calls_in_background(4), pytest.raises(LocalRateLimited):
        limiter.acquire(timeout=0.0)  # nothing free beyond the reserve


def test_a_background_call_waits_while_live_calls_hold_more_than_the_reserve_local():
    clock = FakeClock()
    limiter = LocalLimiter(name="reserve-live", per_second=10, clock=clock, sleep=lambda s: None)
    for _ in range(7):  # live calls took 7 of 10
        assert limiter.try_acquire() == 0.0
    with calls_in_background(4):
        assert limiter.try_acquire() > 0  # only 3 free: not above the reserve of 4
        clock.now += limiter.window  # the live grants leave the window
        assert limiter.try_acquire() == 0.0
    # Outside the context a call is live again: every slot is its to take.
    assert sum(limiter.try_acquire() == 0.0 for _ in range(10)) == 9


@needs_redis
def test_a_background_call_leaves_the_reserve_to_live_calls_across_processes():
    client = redis.Redis.from_url(settings.REDIS_URL)
    name = f"test-{uuid.uuid4().hex}"
    background = RedisLimiter(name=name, per_second=10, client=client)
    live = RedisLimiter(name=name, per_second=10, client=client)  # another process's
    with calls_in_background(3):
        taken = sum(background.try_acquire() == 0.0 for _ in range(10))
    assert taken == 7
    assert sum(live.try_acquire() == 0.0 for _ in range(10)) == 3
