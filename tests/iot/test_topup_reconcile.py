"""Top-ups whose outcome is unknown (the buy call timed out after 1NCE got it): the hold
stays, and the reconciliation asks 1NCE what it sold (its TOPUP orders, then the SIM's
data total) to charge or release the hold exactly once, never buying a second time. The
1NCE client runs against `responses`; the races run on PostgreSQL with threads."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
import responses
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from billing.selectors import vendor_balance
from iot import services, tasks
from iot.models import IotTopup
from ledger.models import Hold, Transaction
from providers.onence import TOKEN_CACHE_KEY, OnceProvider
from providers.resilience import build_breaker
from tests.factories import VendorFactory
from tests.ledger.factories import fund

from .fakes import MB, sims_for

BASE = "https://api.1nce.test/management-api"
PRICE = 1499


@pytest.fixture
def once(monkeypatch) -> OnceProvider:
    cache.delete(TOKEN_CACHE_KEY)
    client = OnceProvider(
        client_id="cid",
        client_secret="secret",
        base_url=BASE,
        breaker=build_breaker(
            name=f"t-{uuid.uuid4().hex}", fail_max=50, reset_timeout=60, redis_url=""
        ),
        sleep=lambda s: None,
        limiters={},  # no limiter: not what these tests are about
    )
    monkeypatch.setattr(services, "provider_for", lambda livemode: client)
    return client


def token(rsps) -> None:
    rsps.post(f"{BASE}/oauth/token", json={"access_token": "t", "expires_in": 3600})


def topup_order(iccid: str, number: str, at=None) -> dict:
    return {
        "order_number": number,
        "order_type": "TOPUP",
        "order_date": (at or timezone.now()).isoformat(),
        "order_status": "COMPLETED",
        "invoice_amount": "10.00",
        "currency": {"code": "EUR"},
        "sims": [{"iccid": iccid}],
    }


def buy_posts(rsps, iccid: str) -> int:
    return sum(
        1 for c in rsps.calls if c.request.method == "POST" and f"{iccid}/topup" in c.request.url
    )


def timed_out_topup(rsps, vendor, sim) -> IotTopup:
    """A top-up whose buy call timed out after 1NCE got it."""
    token(rsps)
    rsps.post(f"{BASE}/v2/sims/{sim.iccid}/topup", body=requests.ReadTimeout("read timed out"))
    topup = services.topup_buy(sim=sim)  # answered as it stands, not an error
    assert topup.status == "reserved" and topup.outcome_unknown_at is not None
    IotTopup.objects.filter(pk=topup.pk).update(
        outcome_unknown_at=timezone.now() - timedelta(minutes=5)
    )
    return IotTopup.objects.get(pk=topup.pk)


def charges(topup: IotTopup) -> int:
    return Transaction.objects.filter(reference=f"iot-topup:{topup.pk}:charge").count()


def hold(topup: IotTopup) -> str:
    return Hold.objects.get(reference=f"iot-topup:{topup.pk}:reserve").status


@pytest.mark.django_db
def test_a_timed_out_top_up_keeps_its_hold_and_is_bought_once(once):
    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim] = sims_for(vendor, 1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        topup = timed_out_topup(rsps, vendor, sim)
        assert buy_posts(rsps, sim.iccid) == 1  # never re-sent after a read timeout
    assert hold(topup) == "pending"
    assert vendor_balance(vendor=vendor).available.amount == 10_000 - PRICE


@pytest.mark.django_db
def test_the_api_answers_202_reserved_and_a_retry_replays_it_without_buying(once):
    from tests.vendors.factories import vendor_client

    client = vendor_client()
    fund(client.vendor, 10_000)
    [sim] = sims_for(client.vendor, 1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        token(rsps)
        rsps.post(f"{BASE}/v2/sims/{sim.iccid}/topup", body=requests.ReadTimeout("timed out"))
        url = f"/api/v1/vendor/iot/sims/{sim.iccid}/topups"
        first = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
        again = client.post(url, {}, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
        assert buy_posts(rsps, sim.iccid) == 1
    assert first.status_code == again.status_code == 202
    assert first.json()["status"] == "reserved" and again.headers["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_reconcile_charges_a_top_up_found_in_1nces_orders(once):
    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim] = sims_for(vendor, 1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        topup = timed_out_topup(rsps, vendor, sim)
        rsps.get(
            f"{BASE}/v1/orders",
            json=[
                topup_order("89000000000000000001", "ORD-OTHER-SIM"),
                topup_order(sim.iccid, "ORD-OLD", timezone.now() - timedelta(days=3)),
                topup_order(sim.iccid, "ORD-77"),
            ],
        )
        assert tasks.iot_topups_reconcile() == {"charged": 1}
        assert tasks.iot_topups_reconcile() == {}  # settled: nothing left to do
        assert buy_posts(rsps, sim.iccid) == 1
    topup.refresh_from_db()
    assert (topup.status, topup.provider_order) == ("completed", "ORD-77")
    assert hold(topup) == "captured" and charges(topup) == 1
    assert vendor_balance(vendor=vendor).available.amount == 10_000 - PRICE
    sim.refresh_from_db()
    assert sim.data_left_bytes == 900 * MB  # the volume is the SIM's


@pytest.mark.django_db
def test_reconcile_charges_on_the_quota_history_when_no_order_is_listed(once):
    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim] = sims_for(vendor, 1)  # data total 500 MB before
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        topup = timed_out_topup(rsps, vendor, sim)
        rsps.get(f"{BASE}/v1/orders", json=[])
        rsps.get(
            f"{BASE}/v2/sims/{sim.iccid}/quota/data",
            json={"volume": 900.0, "total_volume": 1000.0, "last_volume_added": 500.0},
        )
        assert services.topups_reconcile() == {"charged": 1}
    topup.refresh_from_db()
    assert (topup.status, topup.provider_order, hold(topup)) == ("completed", "quota", "captured")


@pytest.mark.django_db
def test_reconcile_waits_then_releases_when_1nce_shows_nothing(once):
    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim] = sims_for(vendor, 1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        topup = timed_out_topup(rsps, vendor, sim)
        rsps.get(
            f"{BASE}/v1/orders",
            json=[topup_order(sim.iccid, "ORD-BEFORE", topup.created_at - timedelta(hours=2))],
        )
        rsps.get(
            f"{BASE}/v2/sims/{sim.iccid}/quota/data",
            json={"volume": 400.0, "total_volume": 500.0},
        )
        assert services.topups_reconcile() == {"waiting": 1}  # it may still show up
        assert hold(topup) == "pending"
        later = timezone.now() + timedelta(hours=1)
        assert services.topups_reconcile(now=later) == {"released": 1}
        assert services.topups_reconcile(now=later) == {}
        assert buy_posts(rsps, sim.iccid) == 1
    topup.refresh_from_db()
    assert topup.status == "failed" and hold(topup) == "voided" and charges(topup) == 0
    assert vendor_balance(vendor=vendor).available.amount == 10_000


@pytest.mark.django_db
def test_a_top_up_being_bought_is_never_reconciled_and_a_dead_ones_is(once):
    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim] = sims_for(vendor, 1)
    young = IotTopup.objects.create(
        vendor=vendor, sim=sim, price_amount=PRICE, cost_amount=1000, currency="USD"
    )
    assert services.topups_to_reconcile() == []
    assert services.topups_to_reconcile(now=timezone.now() + timedelta(hours=2)) == [young.pk]


@pytest.mark.django_db
def test_one_order_settles_one_of_two_unknown_top_ups(once):
    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim] = sims_for(vendor, 1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        first = timed_out_topup(rsps, vendor, sim)
        token(rsps)
        second = services.topup_buy(sim=sim)
        IotTopup.objects.filter(pk=second.pk).update(outcome_unknown_at=first.outcome_unknown_at)
        rsps.get(f"{BASE}/v1/orders", json=[topup_order(sim.iccid, "ORD-1")])
        rsps.get(
            f"{BASE}/v2/sims/{sim.iccid}/quota/data",
            json={"volume": 900.0, "total_volume": 1000.0},
        )
        outcome = services.topups_reconcile()
    # ORD-1 is one top-up; the quota grew by one: the other one waits (then is released).
    assert outcome == {"charged": 1, "waiting": 1}
    assert IotTopup.objects.filter(status="completed", provider_order="ORD-1").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reconcilers_and_the_late_answer_of_the_buy_call_charge_once(once):
    """Ten reconcile runs at once (the beat task on several workers) and the buy call's
    own late success: one charge, one cost booking, one top-up bought."""
    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim] = sims_for(vendor, 1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        topup = timed_out_topup(rsps, vendor, sim)
        rsps.get(f"{BASE}/v1/orders", json=[topup_order(sim.iccid, "ORD-9")])
        barrier = threading.Barrier(11)

        def run(n: int) -> str:
            try:
                barrier.wait(timeout=30)
                if n == 0:  # the late success
                    return services.topup_complete(topup_id=topup.pk, provider_order="ORD-9").status
                return services.topup_reconcile(topup_id=topup.pk)
            finally:
                connection.close()

        with ThreadPoolExecutor(11) as pool:
            outcomes = list(pool.map(run, range(11)))
        assert buy_posts(rsps, sim.iccid) == 1
    assert outcomes[0] == "completed"
    assert set(outcomes[1:]) <= {"charged", "settled"}  # the late answer or one of them
    topup.refresh_from_db()
    assert (topup.status, hold(topup), charges(topup)) == ("completed", "captured", 1)
    assert Transaction.objects.filter(reference=f"iot-topup:{topup.pk}:cost").count() == 1
    assert vendor_balance(vendor=vendor).available.amount == 10_000 - PRICE
    sim.refresh_from_db()
    assert sim.data_left_bytes == 900 * MB  # the volume added once


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_releases_void_the_hold_once(once):
    vendor = VendorFactory()
    fund(vendor, 10_000)
    [sim] = sims_for(vendor, 1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        topup = timed_out_topup(rsps, vendor, sim)
        rsps.get(f"{BASE}/v1/orders", json=[])
        rsps.get(
            f"{BASE}/v2/sims/{sim.iccid}/quota/data", json={"volume": 400.0, "total_volume": 500.0}
        )
        later = timezone.now() + timedelta(hours=1)
        barrier = threading.Barrier(10)

        def run(n: int) -> str:
            try:
                barrier.wait(timeout=30)
                return services.topup_reconcile(topup_id=topup.pk, now=later)
            finally:
                connection.close()

        with ThreadPoolExecutor(10) as pool:
            outcomes = list(pool.map(run, range(10)))
    assert outcomes.count("released") == 1 and set(outcomes) <= {"released", "settled"}
    topup.refresh_from_db()
    assert topup.status == "failed" and hold(topup) == "voided"
    assert vendor_balance(vendor=vendor).available.amount == 10_000
