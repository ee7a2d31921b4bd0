"""IoT fleet timings on a real database: a simulated fleet of N SIMs (default 10,000) is
synced from the sandbox provider, listed through the API (first page, filtered, deep
cursor pages), and a month of its daily usage (N x 30 rows) is read as the fleet series.

    .ci/services.sh run .venv/bin/python -m bench.iot_fleet [N]

Prints each timing; asserts nothing (figures for docs/IOT.md)."""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from iot import services  # noqa: E402
from iot.models import IotSim, IotUsageDay  # noqa: E402
from sandbox.iot import sandbox_iot_fleet_create  # noqa: E402
from vendors.models import Vendor  # noqa: E402
from vendors.services import api_key_issue, vendor_test_environment  # noqa: E402


def timed(label: str, fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    print(f"{label}: {time.perf_counter() - started:.3f} s")
    return result


def main(size: int) -> None:
    call_command("migrate", verbosity=0)
    live = Vendor.objects.create(name=f"Fleet {time.time()}", status="active", currency="USD")
    vendor, _ = vendor_test_environment(vendor=live)
    _, key = api_key_issue(vendor=vendor, name="bench")
    client = APIClient(SERVER_NAME="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    timed(f"create {size} sandbox SIMs", lambda: sandbox_iot_fleet_create(vendor=vendor, size=size))
    counts = timed("fleet sync (sandbox, all pages)", lambda: services.fleet_sync(livemode=False))
    print("  ", counts)
    again = timed("fleet sync again (idempotent)", lambda: services.fleet_sync(livemode=False))
    print("  ", again)
    first = timed(
        "API first page (100)",
        lambda: client.get("/api/v1/vendor/iot/sims", {"page_size": 100}),
    )
    assert first.status_code == 200, first.content
    print("   count", first.json()["count"])
    page = first.json()
    started = time.perf_counter()
    pages = 1
    while page["next"] and pages < 20:
        page = client.get(page["next"]).json()
        pages += 1
    print(f"API next 19 pages: {(time.perf_counter() - started) / max(1, pages - 1):.3f} s/page")
    timed(
        "API filtered (label_contains, status)",
        lambda: client.get(
            "/api/v1/vendor/iot/sims", {"label_contains": "device-99", "status": "enabled"}
        ),
    )
    timed(
        "API filtered (data_left_max_mb=400)",
        lambda: client.get("/api/v1/vendor/iot/sims", {"data_left_max_mb": 400}),
    )
    today = timezone.now().date()
    start = today - timedelta(days=29)
    ids = list(IotSim.objects.filter(vendor=vendor).values_list("pk", flat=True))

    def usage_rows() -> None:
        rows = [
            IotUsageDay(
                sim_id=pk,
                vendor=vendor,
                livemode=False,
                day=start + timedelta(days=d),
                data_bytes=1024 * 1024,
            )
            for pk in ids
            for d in range(30)
        ]
        IotUsageDay.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)

    timed(f"insert {len(ids) * 30} usage days", usage_rows)
    series = timed(
        "API fleet usage, 30 days",
        lambda: client.get(
            "/api/v1/vendor/iot/usage", {"start": start.isoformat(), "end": today.isoformat()}
        ),
    )
    print("   total MB", series.json()["total_data_mb"])
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE iot_iotusageday")
            cursor.execute(
                "EXPLAIN ANALYZE SELECT day, SUM(data_bytes) FROM iot_iotusageday"
                " WHERE vendor_id = %s AND day BETWEEN %s AND %s GROUP BY day",
                [vendor.pk, start, today],
            )
            print("\n".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
