"""`make bench`'s ready-stock phase (`stock_burst`), side by side in one run:

1. the direct path: a burst of BENCH_STOCK_BURST (default 1,000) B2B orders of a bundle
   with stock switched off, from 32 clients, against gunicorn, provisioned by a real
   Celery worker (4 processes) through the eSIM Go client, under the shared provider cap
   (ESIMGO_RATE_LIMIT_PER_SECOND, 10/s: an order costs an order call and a tag call);
2. the same burst of a stocked bundle: every order answered `201 completed` with its eSIM;
3. time to eSIM for a stocked bundle at 8 clients: the order request's round trip, p50/p99.

Each burst is timed from its first request until every one of its orders is completed
(eSIMs delivered); eSIMs delivered per second = orders / that time. The stock is bought
beforehand by the harness (`stock_refill_run`, batches of 100 spaced 0.2 s: the fill is
not what is measured; in production the refill buys 10 per order 3 s apart, ahead of the
sales). Figures, not checks: an order that is not completed fails the run.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import uuid
from typing import TYPE_CHECKING

from bench.load import percentile

if TYPE_CHECKING:
    from bench.run import Bench

STOCKED = "esim_3GB_15D_GB_V2"  # a bundle of the fake eSIM Go catalogue
DIRECT = "esim_1GB_7D_GB_V2"
LATENCY_ORDERS = 400


def _say(message: str) -> None:
    print(f"bench: {message}", flush=True)


def _burst(
    b: Bench, *, bundle: str, count: int, clients: int
) -> tuple[list[tuple[int, str, float]], float]:
    """`count` orders of `bundle` from `clients` threads (each its own keep-alive
    connection, over the first 32 vendors): per order (id, status in the 201, seconds of
    its request), and when the burst started (monotonic)."""
    keys = [v.api_key for v in b.vendors[:32]]
    body = json.dumps({"bundle_code": bundle, "quantity": 1}).encode()
    results: list[tuple[int, str, float]] = []
    errors: list[str] = []
    lock = threading.Lock()
    left = iter(range(count))

    def run(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", b.ports["app"], timeout=60)
        while True:
            with lock:
                i = next(left, None)
            if i is None:
                return
            headers = {
                "Authorization": f"Api-Key {keys[(n + i) % len(keys)]}",
                "Content-Type": "application/json",
                "Idempotency-Key": f"stock-burst-{uuid.uuid4().hex}",
            }
            t0 = time.monotonic()
            conn.request("POST", "/api/v1/vendor/orders", body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            took = time.monotonic() - t0
            with lock:
                if response.status != 201:
                    errors.append(f"{response.status}: {payload[:200]!r}")
                    continue
                answer = json.loads(payload)
                results.append((int(answer["id"]), str(answer["status"]), took))

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    if errors:
        b.failures.append(f"stock burst: {len(errors)} orders refused, first {errors[0]}")
    return results, started


def _all_completed(ids: list[int], started: float, timeout: float) -> float | None:
    """Seconds from `started` until every order is completed (None: not within timeout)."""
    from django.db import close_old_connections

    from orders.models import Order

    while time.monotonic() - started < timeout:
        close_old_connections()
        if Order.objects.filter(pk__in=ids).exclude(status="completed").count() == 0:
            return time.monotonic() - started
        time.sleep(0.25)
    return None


def _stock_fill(count: int) -> float:
    """Buy `count` eSIMs of the stocked bundle for stock; the seconds it took."""
    from django.test import override_settings

    from catalogue.models import Bundle
    from fulfilment.stock.models import StockSetting
    from fulfilment.stock.refill import stock_refill_run

    setting, _ = StockSetting.objects.get_or_create(
        bundle=Bundle.objects.get(code=STOCKED),
        livemode=True,
        defaults={"floor": 1, "target": count, "capital_cap": 10**12},
    )
    setting.enabled, setting.floor, setting.target = True, 1, count
    setting.save()
    t0 = time.monotonic()
    with override_settings(
        STOCK_REFILL_BATCH_SIZE=100,
        STOCK_REFILL_SPACING_SECONDS=0.2,
        STOCK_REFILL_MAX_BATCHES_PER_RUN=1000,
        STOCK_CAPITAL_CAP_TOTAL=10**12,
    ):
        stock_refill_run(bundle_code=STOCKED, requested_by="bench")
    return time.monotonic() - t0


def stock_burst(b: Bench) -> None:
    from django.conf import settings

    from fulfilment.stock.models import StockEsim

    count = int(os.environ.get("BENCH_STOCK_BURST", 1000))
    cap = float(settings.ESIMGO_RATE_LIMIT_PER_SECOND)
    b.purge_queue()
    b.start_worker(concurrency=4, name="worker-stock")
    load = os.getloadavg()

    # 1. the direct path (no stock for this bundle)
    direct, started = _burst(b, bundle=DIRECT, count=count, clients=32)
    accepted = time.monotonic() - started
    direct_ids = [i for i, _, _ in direct]
    direct_done = _all_completed(direct_ids, started, timeout=60 + 4 * count / max(cap, 1.0))
    if direct_done is None:
        b.failures.append("stock burst: the direct path's orders were not all completed")
    _say(f"stock burst: direct path {count} orders delivered in {direct_done}s")

    # 2. the same burst of a stocked bundle
    filled = _stock_fill(count + LATENCY_ORDERS)
    in_stock = StockEsim.objects.filter(bundle_code=STOCKED, status="available").count()
    _say(f"stock burst: {in_stock} eSIMs bought for stock in {filled:.1f}s (not measured)")
    stocked, started_s = _burst(b, bundle=STOCKED, count=count, clients=32)
    answered = time.monotonic() - started_s
    in_201 = sum(1 for _, status, _ in stocked if status == "completed")
    stocked_done = _all_completed([i for i, _, _ in stocked], started_s, timeout=600)
    if stocked_done is None:
        b.failures.append("stock burst: the stocked orders were not all completed")

    # 3. time to eSIM at 8 clients
    timed, _ = _burst(b, bundle=STOCKED, count=LATENCY_ORDERS, clients=8)
    to_esim = [took * 1000 for _, status, took in timed if status == "completed"]
    b.procs.stop("worker-stock")
    b.purge_queue()

    direct_rate = count / direct_done if direct_done else 0.0
    stocked_rate = count / stocked_done if stocked_done else 0.0
    ratio = stocked_rate / direct_rate if direct_rate else 0.0
    b.results["stock_burst"] = {
        "orders": count, "clients": 32, "provider_cap_per_second": cap,
        "direct_seconds_to_all_delivered": direct_done and round(direct_done, 1),
        "direct_seconds_to_all_accepted": round(accepted, 1),
        "direct_esims_per_second": round(direct_rate, 2),
        "stocked_seconds_to_all_delivered": stocked_done and round(stocked_done, 2),
        "stocked_esims_per_second": round(stocked_rate, 1),
        "stocked_completed_in_201": in_201,
        "ratio": round(ratio, 1),
        "time_to_esim_8_clients_ms": {
            "orders": len(to_esim),
            "p50": round(percentile(to_esim, 50), 1),
            "p99": round(percentile(to_esim, 99), 1),
        },
        "load_average_before": [round(x, 2) for x in load],
    }  # fmt: skip
    print(f"\nReady stock: a burst of {count} B2B orders from 32 clients, provider cap {cap:g}/s")
    print(f"  {'run':34} {'all delivered s':>16} {'eSIMs/s':>9} {'in the 201':>11}")
    print(
        f"  {'stock off (direct path)':34} {direct_done or float('nan'):>16.1f}"
        f" {direct_rate:>9.2f} {0:>11}"
    )
    print(
        f"  {'stock on':34} {stocked_done or float('nan'):>16.2f} {stocked_rate:>9.1f} {in_201:>11}"
    )
    print(
        f"  stock on / off = {ratio:.1f}x (goal >= 20x); every stocked order answered in "
        f"{answered:.1f}s; the direct path accepted all in {accepted:.1f}s"
    )
    print(
        f"  time to eSIM, stocked bundle, 8 clients: p50 {percentile(to_esim, 50):.1f} ms, "
        f"p99 {percentile(to_esim, 99):.1f} ms over {len(to_esim)} orders (goal p99 < 100 ms)"
    )
    print(f"  load average before the phase: {' '.join(f'{x:.2f}' for x in load)}")
