"""Per-request cost of a B2B order from stock next to the direct path, in process.

    .ci/services.sh run .venv/bin/python bench/profile_stock.py      # figures
    SQL=1 .ci/services.sh run .venv/bin/python bench/profile_stock.py  # + each statement

Sets up like `make bench` (production settings, fake eSIM Go on loopback, funded vendors),
buys N + 40 eSIMs of the stocked bundle for stock (`bench.stock_burst._stock_fill`), then
sends N orders of the direct bundle and N of the stocked one through the Django test client
(no gunicorn, no concurrency): per order the CPU, the wall time, the SQL statements and
their time, and the statements that cost most. What it shows is what one request costs,
not where concurrent requests wait (for that: `log_lock_waits` on the bench's PostgreSQL).
Knobs: N (orders per side, 100), BENCH_VENDORS (20).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_VENDORS", "20")

from bench.run import Bench


def main() -> int:
    b = Bench()
    try:
        b.start_fakes()
        Path(b.env["BENCH_BARE_BODY_FILE"]).write_bytes(b'{"x": 1}' * 200)
        b.django_setup()
        from django.db import connection
        from django.test import Client

        from bench import phases, stock_burst

        phases.prepare(b)
        b.purge_queue()
        n = int(os.environ.get("N", 100))
        print(f"filled stock in {stock_burst._stock_fill(n + 40):.1f}s", flush=True)
        client = Client(HTTP_HOST="127.0.0.1")

        def orderer(bundle: str) -> Callable[[int], str]:
            body = json.dumps({"bundle_code": bundle, "quantity": 1})

            def order(i: int) -> str:
                response = client.post(
                    "/api/v1/vendor/orders", body, content_type="application/json",
                    HTTP_AUTHORIZATION=f"Api-Key {b.vendors[i % len(b.vendors)].api_key}",
                    HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
                )  # fmt: skip
                assert response.status_code == 201, response.content
                return str(response.json()["status"])

            return order

        for name, bundle in (("direct", stock_burst.DIRECT), ("stocked", stock_burst.STOCKED)):
            order = orderer(bundle)
            for i in range(5):  # warm-up
                order(i)
            statements: list[tuple[str, float]] = []

            def timed(
                execute: Any,
                sql: str,
                params: Any,
                many: bool,
                context: Any,
                into: list[tuple[str, float]] = statements,
            ) -> Any:
                t0 = time.perf_counter()
                try:
                    return execute(sql, params, many, context)
                finally:
                    into.append((sql, time.perf_counter() - t0))

            cpu, wall = time.process_time(), time.perf_counter()
            with connection.execute_wrapper(timed):
                statuses = Counter(order(i) for i in range(n))
            cpu_ms = 1000 * (time.process_time() - cpu) / n
            wall_ms = 1000 * (time.perf_counter() - wall) / n
            sql_ms = 1000 * sum(s for _, s in statements) / n
            print(
                f"{name:8} {dict(statuses)} cpu {cpu_ms:.1f} ms, wall {wall_ms:.1f} ms, "
                f"{len(statements) / n:.1f} statements ({sql_ms:.1f} ms) per order",
                flush=True,
            )
            spent: dict[str, float] = {}
            count: Counter[str] = Counter()
            for sql, seconds in statements:
                spent[sql[:120]] = spent.get(sql[:120], 0.0) + seconds
                count[sql[:120]] += 1
            for sql, seconds in sorted(spent.items(), key=lambda kv: -kv[1])[:12]:
                print(f"  {1000 * seconds / n:6.2f} ms {count[sql] / n:4.1f}x  {sql}")
            if os.environ.get("SQL"):
                for sql, _ in statements[: len(statements) // n]:
                    print(f"    {sql[:160]}")
        return 0
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main())
