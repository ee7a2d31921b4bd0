"""1NCE's published limits hold across worker processes (real Redis): four processes
calling `/v2/sims` through their own clients never exceed 10 calls in a second together,
and a family with a longer window (`/orders`: 100 per 5 minutes; here 5 per 3 s) holds
over its whole window."""

from __future__ import annotations

import multiprocessing
import time
import uuid

import responses
from django.conf import settings

from providers.onence import OnceProvider
from providers.ratelimit import WINDOW_GUARD_SECONDS, shared_limiter
from providers.resilience import build_breaker

from .test_ratelimit import max_in_window, needs_redis

BASE = "https://api.1nce.test/management-api"


def _worker(family: str, name: str, calls: int, window: float, seconds: float, out) -> None:
    limiter = shared_limiter(
        name=name, per_second=calls / window, window=window + WINDOW_GUARD_SECONDS
    )
    client = OnceProvider(
        client_id="cid",
        client_secret="secret",
        base_url=BASE,
        breaker=build_breaker(
            name=f"t-{uuid.uuid4().hex}", fail_max=50, reset_timeout=60, redis_url=""
        ),
        limiters={family: limiter},
    )
    client._token = ("tok", time.time() + 3600)  # the shared token is not what is measured
    grants = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{BASE}/v2/sims/1", json={"iccid": "1", "status": "Enabled"})
        mock.get(f"{BASE}/v1/orders", json=[])
        end = time.time() + seconds
        while time.time() < end:
            if family == "sims":
                client.get_sim("1")
            else:
                client.list_orders()
            grants.append(time.time())
    out.put(grants)


def _run(family: str, calls: int, window: float, seconds: float) -> list[float]:
    name = f"1nce:{family}:{uuid.uuid4().hex}"
    ctx = multiprocessing.get_context("fork")
    out: multiprocessing.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(family, name, calls, window, seconds, out))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    grants = [t for _ in procs for t in out.get(timeout=60)]
    for p in procs:
        p.join(timeout=10)
    return grants


@needs_redis
def test_sims_calls_of_four_processes_stay_within_ten_a_second():
    grants = _run("sims", 10, 1.0, 2.5)
    assert len(grants) >= 10 * (2.5 - 0.6)
    assert max_in_window(grants) <= 10


@needs_redis
def test_a_longer_window_holds_across_four_processes():
    grants = _run("orders", 5, 3.0, 4.0)
    # two windows' worth, and the calls that were waiting when the 4 s ended
    assert 10 <= len(grants) <= 15
    assert max_in_window(grants, window=3.0) <= 5


def test_the_published_limits_are_settings():
    from config.settings import base

    assert base.ONCE_RATE_LIMITS["sims"] == (10, 1.0)
    assert base.ONCE_RATE_LIMITS["oauth"] == (600, 60.0)
    assert base.ONCE_RATE_LIMITS["orders"] == (100, 300.0)
    assert settings.ONCE_RATE_LIMITS == {}  # the suite's own: tests build their limiters
