"""The fleet's daily usage rollup: kept by `usage_sync` in the transaction that writes the
usage rows, equal to their raw sum (after overwrites, a SIM given to a vendor, concurrent
syncs of one fleet), read by the fleet usage endpoint, and backfilled by its migration."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from iot import services
from iot.api import _usage
from iot.models import IotSim, IotUsageDay, IotUsageRollup
from providers.iot import IotUsage
from tests.factories import VendorFactory
from tests.vendors.factories import vendor_client

from .fakes import MB, FakeIot, sims_for

START = date(2026, 11, 1)
END = date(2026, 11, 30)
BASE = "/api/v1/vendor/iot"


class VaryingIot(FakeIot):
    """Usage that differs per SIM, day and read (`round[iccid]`), so an overwrite changes it."""

    def __init__(self) -> None:
        super().__init__()
        self.round: dict[str, int] = {}

    def usage(self, iccid: str, *, start: date, end: date) -> list[IotUsage]:
        r = self.round.get(iccid, 1)
        seed = int(iccid[-4:])
        return [
            IotUsage(
                start + timedelta(d),
                (seed + d + 1) * r * MB,
                0,
                0,
                (seed + d) % 3 * r,
                (d + r) % 4,
            )
            for d in range((end - start).days + 1)
        ]


@pytest.fixture
def fake(monkeypatch) -> VaryingIot:
    provider = VaryingIot()
    monkeypatch.setattr(services, "provider_for", lambda livemode: provider)
    return provider


def both(vendor) -> tuple[list, list]:
    return (
        services.month_usage_totals(vendor=vendor, start=START, end=END),
        services.month_usage_totals_raw(vendor=vendor, start=START, end=END),
    )


@pytest.mark.django_db
def test_the_rollup_equals_the_raw_sum_after_overwrites_and_an_assignment(fake):
    vendor, other = VendorFactory(), VendorFactory()
    sims = sims_for(vendor, 3)
    [stranger] = sims_for(other, 1)
    [loose] = sims_for(vendor, 1, start=50)
    IotSim.objects.filter(pk=loose.pk).update(vendor=None)
    loose.refresh_from_db()
    for sim in [*sims, stranger, loose]:
        services.usage_sync(sim=sim, start=START, end=END)
    assert both(vendor)[0] == both(vendor)[1] and len(both(vendor)[0]) == 30
    # Re-read days (larger and smaller) are overwritten: the rollup takes the difference.
    fake.round[sims[0].iccid] = 3
    services.usage_sync(sim=sims[0], start=START + timedelta(5), end=START + timedelta(9))
    fake.round[sims[1].iccid] = 0
    services.usage_sync(sim=sims[1], start=START, end=END)
    # A SIM nobody had is given to the vendor: its days move into the fleet on the next read.
    services.sims_assign(vendor=vendor, iccids=[loose.iccid])
    services.usage_sync(sim=loose, start=START + timedelta(20), end=END)
    rollup, raw = both(vendor)
    assert rollup == raw
    assert sum(d["data_bytes"] for d in raw) > 0
    assert both(other)[0] == both(other)[1]
    assert not IotUsageRollup.objects.filter(vendor__isnull=True).exists()


@pytest.mark.django_db
def test_the_fleet_usage_endpoint_answers_the_raw_sum(fake):
    client = vendor_client()
    for sim in sims_for(client.vendor, 4):
        services.usage_sync(sim=sim, start=START, end=END)
    fleet = client.get(f"{BASE}/usage", {"start": "2026-10-28", "end": "2026-11-20"})
    assert fleet.status_code == 200
    raw = services.month_usage_totals_raw(
        vendor=client.vendor, start=date(2026, 10, 28), end=date(2026, 11, 20)
    )
    expected = _usage(raw, date(2026, 10, 28), date(2026, 11, 20))
    assert fleet.json()["total_data_mb"] == expected["total_data_mb"] != "0.00"
    assert [(d["day"], d["data_mb"], d["sms_mo"], d["sms_mt"]) for d in fleet.json()["days"]] == [
        (d["day"].isoformat(), d["data_mb"], d["sms_mo"], d["sms_mt"]) for d in expected["days"]
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_syncs_of_one_fleet_keep_the_rollup_equal_to_the_raw_sum(fake):
    vendor = VendorFactory()
    sims = sims_for(vendor, 6)
    for sim in sims[:3]:  # days already stored: these syncs overwrite
        services.usage_sync(sim=sim, start=START, end=END)
    for sim in sims:
        fake.round[sim.iccid] = 2
    # Each SIM synced by two threads at once, all twelve overlapping on the fleet's rows.
    jobs = [sim for sim in sims for _ in range(2)]
    barrier = threading.Barrier(len(jobs))

    def sync(sim: IotSim) -> int:
        try:
            barrier.wait()
            return services.usage_sync(sim=sim, start=START, end=END)
        finally:
            connection.close()

    with ThreadPoolExecutor(len(jobs)) as pool:
        assert list(pool.map(sync, jobs)) == [30] * len(jobs)
    rollup, raw = both(vendor)
    assert rollup == raw
    assert raw[0]["data_bytes"] == sum((int(s.iccid[-4:]) + 1) * 2 * MB for s in sims)


BEFORE = [("iot", "0002_sim_events_and_topup_reconciliation")]
AFTER = [("iot", "0003_usage_rollup")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_backfills_the_rollup_from_stored_usage():
    vendor, other = VendorFactory(), VendorFactory()
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        Sim, Day = old.get_model("iot", "IotSim"), old.get_model("iot", "IotUsageDay")
        for n, (owner, livemode) in enumerate(
            [(vendor, True), (vendor, True), (vendor, False), (other, True), (None, True)]
        ):
            sim = Sim.objects.create(
                vendor_id=owner and owner.pk, livemode=livemode, provider="1nce", iccid=f"89{n}"
            )
            for d in range(3):
                Day.objects.create(
                    sim=sim, vendor_id=sim.vendor_id, livemode=livemode,
                    day=START + timedelta(d), data_bytes=(n + 1) * (d + 1) * MB,
                    sms_mo=n, sms_mt=d,
                )  # fmt: skip
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
    assert IotUsageRollup.objects.count() == 3 * 3  # vendor live, vendor test, other live
    rollup, raw = both(vendor)
    assert rollup == raw
    assert raw[0] == {"day": START, "data_bytes": 6 * MB, "sms_mo": 3, "sms_mt": 0}
    assert both(other)[0] == both(other)[1]
    assert IotUsageDay.objects.count() == 15
