"""IoT fleet timings on a real database: a simulated fleet of N SIMs (default 10,000) is
synced from the sandbox provider, listed through the API (first page, filtered, deep
cursor pages), and a month of its daily usage (N x 30 rows) is read as the fleet series.

    .ci/services.sh run .venv/bin/python -m bench.iot_fleet [N]
    .ci/services.sh run .venv/bin/python -m bench.iot_fleet 100000 --usage-only

`--usage-only` (PostgreSQL): N SIMs and a month of their daily usage (N x 30 rows) are
bulk-loaded with generate_series, beside another fleet's month (so the fleet is one
vendor among others), its daily rollup filled as the migration does, then the fleet's
month is read through the API (from the rollup) and summed from the raw rows, a few times
each, in the same run.

Prints each timing; asserts only that the rollup equals the raw sum (figures for
docs/IOT.md)."""

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


def rollup_fill(vendor_ids: list[int]) -> None:
    """The fleet rollup of usage rows loaded here behind `usage_sync`'s back, summed in SQL
    the way the migration backfills it."""
    within = "(" + ", ".join(["%s"] * len(vendor_ids)) + ")"
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM iot_iotusagerollup WHERE vendor_id IN {within}", vendor_ids)
        cursor.execute(
            "INSERT INTO iot_iotusagerollup (vendor_id, livemode, day, data_bytes, sms_mo, sms_mt)"
            " SELECT vendor_id, livemode, day, SUM(data_bytes), SUM(sms_mo), SUM(sms_mt)"
            f" FROM iot_iotusageday WHERE vendor_id IN {within} GROUP BY vendor_id, livemode, day",
            vendor_ids,
        )


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
    rollup_fill([vendor.pk])
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


def usage_only(size: int, days: int = 30, runs: int = 5) -> None:
    """A month of daily usage for `size` SIMs, loaded in SQL, read through the API."""
    call_command("migrate", verbosity=0)
    if connection.vendor != "postgresql":
        raise SystemExit("--usage-only needs PostgreSQL (generate_series)")
    stamp = time.time()
    live = Vendor.objects.create(name=f"Fleet {stamp}", status="active", currency="USD")
    _, key = api_key_issue(vendor=live, name="bench")
    other = Vendor.objects.create(name=f"Other {stamp}", status="active", currency="USD")
    client = APIClient(SERVER_NAME="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    today = timezone.now().date()
    start = today - timedelta(days=days - 1)

    def load(vendor: Vendor, sims: int, prefix: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO iot_iotsim (vendor_id, livemode, provider, iccid, imsi, msisdn,"
                " imei, imei_lock, ip_address, status, label, data_level, sms_level,"
                " month_data_bytes, created_at, updated_at)"
                " SELECT %s, true, '1nce', %s || lpad(n::text, 12, '0'), '', '', '', false, '',"
                " 'enabled', 'dev-' || n, 'ok', 'ok', 0, now(), now()"
                " FROM generate_series(1, %s) AS n",
                [vendor.pk, prefix, sims],
            )
            cursor.execute(
                "INSERT INTO iot_iotusageday (sim_id, vendor_id, livemode, day, data_bytes,"
                " sms_mo, sms_mt)"
                " SELECT s.id, s.vendor_id, true, d::date,"
                " (1 + (s.id %% 20)) * 1048576, s.id %% 3, s.id %% 2"
                " FROM iot_iotsim s CROSS JOIN generate_series(%s::date, %s::date,"
                " interval '1 day') AS d WHERE s.vendor_id = %s",
                [start, today, vendor.pk],
            )

    timed(
        f"load {size} SIMs and {size * days} usage days (generate_series)",
        lambda: load(live, size, "8988100"),
    )
    timed(
        f"load another fleet of {size // 10} SIMs and its month",
        lambda: load(other, size // 10, "8988200"),
    )
    with connection.cursor() as cursor:
        timed("VACUUM ANALYZE usage", lambda: cursor.execute("VACUUM ANALYZE iot_iotusageday"))
        cursor.execute("ANALYZE iot_iotsim")
    timed("fill the fleet rollup (as the migration does)", lambda: rollup_fill([live.pk, other.pk]))
    params = {"start": start.isoformat(), "end": today.isoformat()}
    for run in range(runs):
        answer = timed(
            f"API fleet usage (rollup), {days} days, run {run + 1}",
            lambda: client.get("/api/v1/vendor/iot/usage", params),
        )
        assert answer.status_code == 200, answer.content
    print("   total MB", answer.json()["total_data_mb"], "days", len(answer.json()["days"]))
    for run in range(runs):
        raw = timed(
            f"raw sum over the usage rows, {days} days, run {run + 1}",
            lambda: services.month_usage_totals_raw(vendor=live, start=start, end=today),
        )
    rollup = services.month_usage_totals(vendor=live, start=start, end=today)
    assert rollup == raw, "the rollup differs from the raw sum"
    print("   rollup == raw sum:", len(rollup), "days")
    sim = IotSim.objects.filter(vendor=live).order_by("-id").first()
    assert sim is not None
    timed(
        "API one SIM's usage, 30 days",
        lambda: client.get(f"/api/v1/vendor/iot/sims/{sim.iccid}/usage", params),
    )
    timed(
        "API SIM list, first page of 100 (count over the fleet)",
        lambda: client.get("/api/v1/vendor/iot/sims", {"page_size": 100}),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT day, SUM(data_bytes), SUM(sms_mo), SUM(sms_mt)"
            " FROM iot_iotusagerollup WHERE vendor_id = %s AND day BETWEEN %s AND %s GROUP BY day"
            " ORDER BY day",
            [live.pk, start, today],
        )
        print("\n".join(row[0] for row in cursor.fetchall()))
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT day, SUM(data_bytes), SUM(sms_mo), SUM(sms_mt)"
            " FROM iot_iotusageday WHERE vendor_id = %s AND day BETWEEN %s AND %s GROUP BY day"
            " ORDER BY day",
            [live.pk, start, today],
        )
        print("\n".join(row[0] for row in cursor.fetchall()))
    print("load average", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    fleet = int(args[0]) if args else 10_000
    if "--usage-only" in sys.argv:
        usage_only(fleet)
    else:
        main(fleet)
