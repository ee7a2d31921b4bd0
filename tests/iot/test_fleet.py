"""The fleet's services: sync from the provider (idempotent, paged), quota crossings that
fire once, daily usage rows, paid top-ups through the ledger and auto top-up with caps."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from django.db import connection

from billing.selectors import vendor_balance
from iot import services
from iot.models import IotFleetSettings, IotSim, IotTopup, IotUsageDay
from ledger.models import Hold
from providers import ProviderRejected
from tests.factories import VendorFactory
from tests.ledger.factories import fund
from ttelgo.errors import DomainError
from ttelgo.models import OutboxMessage
from ttelgo.outbox import EVENT_PUBLISH_TASK

from .fakes import MB, FakeIot, info, sims_for


@pytest.fixture
def fake(monkeypatch) -> FakeIot:
    provider = FakeIot()
    monkeypatch.setattr(services, "provider_for", lambda livemode: provider)
    return provider


def events(kind: str | None = None) -> list[dict]:
    rows = OutboxMessage.objects.filter(task=EVENT_PUBLISH_TASK).order_by("id")
    found = [{"vendor_id": r.args[0], "type": r.args[1], "data": r.args[2]} for r in rows]
    return [e for e in found if kind is None or e["type"] == kind]


@pytest.mark.django_db
def test_sync_records_new_sims_and_is_idempotent(fake):
    fake.sims = {f"89{n:017d}": info(f"89{n:017d}", label=f"l{n}") for n in range(250)}
    counts = services.fleet_sync()
    assert counts["pages"] == 3 and counts["created"] == 250
    assert IotSim.objects.filter(vendor__isnull=True).count() == 250  # operators assign them
    again = services.fleet_sync()
    assert (again["created"], again["updated"], again["status_changed"]) == (0, 0, 0)
    assert IotSim.objects.count() == 250


@pytest.mark.django_db
def test_sync_moves_status_and_tells_the_vendor(fake):
    vendor = VendorFactory()
    [sim] = sims_for(vendor, 1)
    fake.sims = {sim.iccid: info(sim.iccid, status="disabled", label="renamed")}
    counts = services.fleet_sync()
    sim.refresh_from_db()
    assert (sim.status, sim.label, counts["status_changed"]) == ("disabled", "renamed", 1)
    [event] = events("sim.status_changed")
    assert event["vendor_id"] == vendor.pk
    assert event["data"]["previous_status"] == "enabled"
    assert event["data"]["sim"]["iccid"] == sim.iccid


@pytest.mark.django_db
def test_a_quota_crossing_fires_once_and_again_after_a_top_up(fake):
    vendor = VendorFactory()
    [sim] = sims_for(vendor, 1)
    low = {"sim_id": sim.pk, "data_left": 50 * MB, "data_total": 500 * MB}
    assert [c.level for c in services.sim_quota_observe(**low)] == ["low"]
    assert services.sim_quota_observe(**low) == []  # still low: no new crossing
    assert services.sim_quota_observe(sim_id=sim.pk, data_left=0) == [
        services.Crossing("data", "exhausted")
    ]
    assert [e["type"] for e in events()] == ["sim.quota_threshold", "sim.quota_exhausted"]
    assert events()[0]["data"]["percent_left"] == 10
    services.sim_quota_observe(sim_id=sim.pk, data_left=400 * MB)  # topped up elsewhere
    assert [c.level for c in services.sim_quota_observe(**low)] == ["low"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_observers_of_one_crossing_have_one_winner(fake):
    vendor = VendorFactory()
    [sim] = sims_for(vendor, 1)
    barrier = threading.Barrier(10)

    def observe(_: int) -> int:
        try:
            barrier.wait(timeout=30)
            return len(services.sim_quota_observe(sim_id=sim.pk, data_left=10 * MB))
        finally:
            connection.close()

    with ThreadPoolExecutor(10) as pool:
        assert sorted(pool.map(observe, range(10))) == [0] * 9 + [1]
    sim.refresh_from_db()
    assert (sim.data_level, sim.data_left_bytes) == ("low", 10 * MB)


@pytest.mark.django_db
def test_usage_days_are_upserted_and_the_month_total_kept(fake):
    vendor = VendorFactory()
    [sim] = sims_for(vendor, 1)
    today = date.today()
    start = today.replace(day=1)
    services.usage_sync(sim=sim, start=start, end=today)
    services.usage_sync(sim=sim, start=start, end=today)  # the same days again
    days = (today - start).days + 1
    assert IotUsageDay.objects.filter(sim=sim).count() == days
    sim.refresh_from_db()
    assert sim.month_data_bytes == days * 10 * MB
    totals = services.month_usage_totals(vendor=vendor, start=start, end=today)
    assert [t["data_bytes"] for t in totals] == [10 * MB] * days


@pytest.mark.django_db
def test_a_top_up_is_reserved_bought_and_charged(fake):
    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim] = sims_for(vendor, 1)
    before = vendor_balance(vendor=vendor).available.amount
    topup = services.topup_buy(sim=sim)
    assert topup.status == "completed" and topup.provider_order.startswith("ORD-")
    assert topup.price_amount == 1499  # cost 10.00, default rule +40 %, rounded to .99
    assert before - vendor_balance(vendor=vendor).available.amount == 1499
    assert Hold.objects.get(reference=f"iot-topup:{topup.pk}:reserve").status == "captured"
    sim.refresh_from_db()
    assert sim.data_left_bytes == 900 * MB and sim.sms_left == 450


@pytest.mark.django_db
def test_a_refused_top_up_releases_the_hold(fake):
    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim] = sims_for(vendor, 1)
    fake.topup_error = ProviderRejected("SIM expired", status=422)
    before = vendor_balance(vendor=vendor).available.amount
    with pytest.raises(ProviderRejected):
        services.topup_buy(sim=sim)
    assert IotTopup.objects.get().status == "failed"
    assert vendor_balance(vendor=vendor).available.amount == before


@pytest.mark.django_db
def test_a_top_up_without_funds_buys_nothing(fake):
    vendor = VendorFactory()
    [sim] = sims_for(vendor, 1)
    with pytest.raises(DomainError) as refused:
        services.topup_buy(sim=sim)
    assert refused.value.code == "insufficient_funds"
    assert not IotTopup.objects.exists() and ("topup", sim.iccid) not in fake.calls


@pytest.mark.django_db
def test_auto_top_up_on_a_crossing_books_once_within_the_caps(
    fake, django_capture_on_commit_callbacks
):
    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim, other] = sims_for(vendor, 2)
    IotFleetSettings.objects.create(vendor=vendor, auto_topup=True, monthly_cap=1)
    with django_capture_on_commit_callbacks(execute=True):
        services.sim_quota_observe(sim_id=sim.pk, data_left=10 * MB, data_total=500 * MB)
    [topup] = IotTopup.objects.all()
    assert (topup.source, topup.status, topup.sim_id) == ("auto", "completed", sim.pk)
    sim.refresh_from_db()
    assert sim.data_level == "ok"  # above the threshold again after the top-up
    # The fleet's cap of one a month: another SIM's crossing alerts but buys nothing.
    with django_capture_on_commit_callbacks(execute=True):
        crossed = services.sim_quota_observe(
            sim_id=other.pk, data_left=10 * MB, data_total=500 * MB
        )
    assert crossed == [services.Crossing("data", "low")]
    assert IotTopup.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_crossings_of_a_fleet_stay_within_its_monthly_cap(fake):
    vendor = VendorFactory()
    fund(vendor, 100_000)
    sims = sims_for(vendor, 8)
    IotFleetSettings.objects.create(vendor=vendor, auto_topup=True, monthly_cap=3)
    barrier = threading.Barrier(8)

    def run(i: int) -> str:
        try:
            barrier.wait(timeout=30)
            return "bought" if services.auto_topup_run(sim_id=sims[i].pk) else "capped"
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(run, range(8)))
    assert outcomes == ["bought"] * 3 + ["capped"] * 5
    assert IotTopup.objects.filter(status="completed").count() == 3


@pytest.mark.django_db
def test_operators_assign_free_sims_and_never_another_vendors(fake):
    fake.sims = {f"89{n:017d}": info(f"89{n:017d}") for n in range(5)}
    services.fleet_sync()
    vendor, other = VendorFactory(), VendorFactory()
    taken = IotSim.objects.order_by("id").first()
    assert taken is not None
    IotSim.objects.filter(pk=taken.pk).update(vendor=other)
    assert services.sims_assign(vendor=vendor, iccids=[taken.iccid], unassigned=2) == 2
    assert IotSim.objects.get(pk=taken.pk).vendor_id == other.pk
    assert IotSim.objects.filter(vendor=vendor).count() == 2
