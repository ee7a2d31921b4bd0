"""CPU per `POST /api/v1/vendor/orders`, in process, next to a bare Django view.

    .ci/services.sh run .venv/bin/python bench/profile_order.py     # figures only
    PROFILE=1 .ci/services.sh run .venv/bin/python bench/profile_order.py  # + cProfile

Sets up like `make bench` (production settings, fake eSIM Go and Stripe on loopback, a
few funded vendors), then sends orders through the Django test client, so gunicorn and the
network are out of the figure: what is left is the request's own Python, its SQL round
trips and its Redis calls. Knobs: N (orders per round, 300), BENCH_VENDORS (50).

Three lines, each measured twice:
- `order`: the whole request through Django, DRF and the middleware;
- `bare`: a bare Django view through the same middleware (the floor of any request);
- `service`: the order's own work with no request at all, the same calls the view makes
  in the same order: API-key lookup, both throttle windows, idempotency claim, the order
  with its hold, its answer (the output serializer) stored, the commit and the
  provisioning publish. What is left of `order` once the HTTP request, Django's handler
  and DRF's view cost nothing.
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_VENDORS", "50")

from bench.run import Bench


def main() -> int:
    b = Bench()
    try:
        b.start_fakes()
        Path(b.env["BENCH_BARE_BODY_FILE"]).write_bytes(b'{"x": 1}' * 200)
        b.django_setup()
        from django.test import Client

        from bench import phases

        phases.prepare(b)
        b.purge_queue()
        client = Client(HTTP_HOST="127.0.0.1")
        body = json.dumps({"bundle_code": phases.ORDER_BODY_BUNDLE, "quantity": 1})

        def order(i: int) -> None:
            key = b.vendors[i % len(b.vendors)].api_key
            response = client.post(
                phases.ORDER_PATH, body, content_type="application/json",
                HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
            )  # fmt: skip
            assert response.status_code == 201, response.content

        def bare(i: int) -> None:
            assert client.get("/bench/bare/catalogue").status_code == 200

        service = _service(b, phases.ORDER_BODY_BUNDLE)
        n = int(os.environ.get("N", 300))
        for fn in (order, bare, service, order, bare, service):
            _measure(fn, n)
        if os.environ.get("PROFILE"):
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for i in range(n):
                order(i)
            profile.disable()
            stats = pstats.Stats(profile)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(30)
        return 0
    finally:
        b.close()


def _service(b: Bench, bundle_code: str) -> Callable[[int], None]:
    from django.conf import settings
    from django.core.cache import cache
    from django.db import transaction
    from rest_framework.response import Response

    from fulfilment.serializers import VendorOrderOutputSerializer
    from orders import services
    from ttelgo.idempotency import idempotency_claim, idempotency_complete
    from ttelgo.slidingwindow import sliding_window_take
    from ttelgo.throttling import _redis_script
    from vendors.models import VendorAPIKey
    from vendors.throttling import VendorRateThrottle

    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    windows = [
        (scope, *VendorRateThrottle().parse_rate(rates[scope]))
        for scope in ("vendor", "vendor_orders")
    ]

    def service(i: int) -> None:
        api_key = VendorAPIKey.objects.get_from_key(b.vendors[i % len(b.vendors)].api_key)
        script = _redis_script()
        for scope, limit, seconds in windows:
            key = f"{cache.key_prefix}:throttle:{scope}:{api_key.pk}"
            assert sliding_window_take(script, key=key, window_seconds=seconds, limit=limit) == 0
        claim = idempotency_claim(
            scope=f"vendor:{api_key.vendor.pk}", key=uuid.uuid4().hex, method="POST",
            path="/api/v1/vendor/orders", fingerprint="0" * 64,
        )  # fmt: skip
        with transaction.atomic():
            order = services.order_create_b2b(
                vendor=api_key.vendor, bundle_code=bundle_code, quantity=1
            )
            answer = Response(VendorOrderOutputSerializer(order).data, status=201)
            idempotency_complete(record=claim.record, response=answer)

    return service


def _measure(fn: Callable[[int], None], n: int) -> None:
    for i in range(20):  # warm-up
        fn(i)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        fn(i)
    cpu_ms = 1000 * (time.process_time() - cpu) / n
    wall_ms = 1000 * (time.perf_counter() - wall) / n
    print(f"{fn.__name__:6} cpu {cpu_ms:6.2f} ms  wall {wall_ms:6.2f} ms  per request", flush=True)


if __name__ == "__main__":
    sys.exit(main())
