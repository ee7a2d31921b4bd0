"""The vendor IoT API: envelope, cursor pages with a count, filters, Idempotency-Key on every
POST, another vendor's SIM / SMS / job is a 404, test keys see test SIMs only; bulk jobs,
labels, SMS round trip, usage series, paid top-ups and auto top-up settings."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from django.db import connection

from billing.selectors import vendor_balance
from iot import services
from iot.models import IotSim, IotSms, IotTopup, IotUsageDay
from ledger.models import Transaction
from providers.iot import IotUsage
from tests.ledger.factories import fund
from tests.vendors.factories import key_client, vendor_client
from vendors.services import api_key_issue, vendor_test_environment

from .fakes import MB, FakeIot, sims_for

BASE = "/api/v1/vendor/iot"


@pytest.fixture
def fake(monkeypatch) -> FakeIot:
    provider = FakeIot()
    monkeypatch.setattr(services, "provider_for", lambda livemode: provider)
    return provider


def post(client, path: str, body=None, key: str | None = None):
    return client.post(
        f"{BASE}{path}",
        body or {},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex,
    )


@pytest.mark.django_db
def test_list_pages_by_cursor_with_a_count_and_filters(fake):
    client = vendor_client()
    sims = sims_for(client.vendor, 5)
    IotSim.objects.filter(pk=sims[0].pk).update(status="disabled", label="pump")
    IotSim.objects.filter(pk=sims[1].pk).update(month_data_bytes=300 * MB, data_left_bytes=MB)
    page = client.get(f"{BASE}/sims", {"page_size": 2}).json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["previous"] is None
    second = client.get(page["next"]).json()
    assert [s["iccid"] for s in second["results"]] == [sims[2].iccid, sims[3].iccid]
    one = page["results"][0]
    assert one["quota"]["data_left_mb"] == "400.00" and one["livemode"] is True
    assert client.get(f"{BASE}/sims", {"status": "disabled"}).json()["count"] == 1
    assert client.get(f"{BASE}/sims", {"label": "pump"}).json()["count"] == 1
    assert client.get(f"{BASE}/sims", {"usage_min_mb": 100}).json()["count"] == 1
    assert client.get(f"{BASE}/sims", {"data_left_max_mb": 1}).json()["count"] == 1
    bad = client.get(f"{BASE}/sims", {"colour": "red"})
    assert bad.status_code == 400 and "colour" in bad.json()["error"]["details"]
    cursor = client.get(f"{BASE}/sims", {"cursor": "nonsense"})
    assert cursor.status_code == 400


@pytest.mark.django_db
def test_another_vendors_sims_sms_and_jobs_are_404(fake):
    mine, theirs = vendor_client(), vendor_client()
    [sim] = sims_for(theirs.vendor, 1)
    fund(mine.vendor, 10_000)
    for path in (f"/sims/{sim.iccid}", f"/sims/{sim.iccid}/usage"):
        answer = mine.get(f"{BASE}{path}")
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    for path, body in (
        (f"/sims/{sim.iccid}/label", {"label": "x"}),
        (f"/sims/{sim.iccid}/disable", {}),
        (f"/sims/{sim.iccid}/topups", {}),
        (f"/sims/{sim.iccid}/refresh", {}),
        (f"/sims/{sim.iccid}/auto-topup", {"enabled": True}),
        (f"/sims/{sim.iccid}/sms/sync", {}),
        ("/sms", {"iccids": [sim.iccid], "text": "hi"}),
        ("/sims/bulk", {"action": "disable", "iccids": [sim.iccid]}),
    ):
        answer = post(mine, path, body)
        assert answer.status_code == 404, path
    theirs_job = post(theirs, "/sims/bulk", {"action": "disable", "iccids": [sim.iccid]}).json()
    assert mine.get(f"{BASE}/jobs/{theirs_job['id']}").status_code == 404
    post(theirs, "/sms", {"iccids": [sim.iccid], "text": "hi"})
    assert mine.get(f"{BASE}/sms").json()["results"] == []
    assert not IotTopup.objects.exists() and fake.calls.count(("topup", sim.iccid)) == 0
    sim.refresh_from_db()
    assert sim.label == "dev-0"


@pytest.mark.django_db
def test_a_test_key_sees_the_test_fleet_only(fake):
    client = vendor_client()
    sims_for(client.vendor, 2)
    test_vendor, _ = vendor_test_environment(vendor=client.vendor)
    _, test_key = api_key_issue(vendor=test_vendor, name="t")
    [test_sim] = sims_for(test_vendor, 1, start=100)
    test_client = key_client(test_key)
    listed = test_client.get(f"{BASE}/sims").json()
    assert [s["iccid"] for s in listed["results"]] == [test_sim.iccid]
    assert listed["results"][0]["livemode"] is False
    assert client.get(f"{BASE}/sims/{test_sim.iccid}").status_code == 404


@pytest.mark.django_db
def test_every_post_takes_an_idempotency_key_and_the_top_up_requires_one(fake):
    client = vendor_client()
    [sim] = sims_for(client.vendor, 1)
    fund(client.vendor, 10_000)
    missing = client.post(f"{BASE}/sims/{sim.iccid}/topups", {}, format="json")
    assert missing.status_code == 400
    first = post(client, f"/sims/{sim.iccid}/label", {"label": "a"}, key="k1")
    again = post(client, f"/sims/{sim.iccid}/label", {"label": "a"}, key="k1")
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    reused = post(client, f"/sims/{sim.iccid}/label", {"label": "b"}, key="k1")
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"


@pytest.mark.django_db
def test_bulk_disable_of_1000_sims_is_one_job_with_progress(
    fake, django_capture_on_commit_callbacks
):
    client = vendor_client()
    sims = sims_for(client.vendor, 1000)
    body = {"action": "disable", "iccids": [s.iccid for s in sims]}
    with django_capture_on_commit_callbacks(execute=True):
        answer = post(client, "/sims/bulk", body, key="bulk-1")
    assert answer.status_code == 202
    job = client.get(f"{BASE}/jobs/{answer.json()['id']}").json()
    assert (job["status"], job["total"], job["done"]) == ("completed", 1000, 1000)
    assert [c for c in fake.calls if c[0] == "bulk"] == [("bulk", 100)] * 10
    assert IotSim.objects.filter(status="disabled").count() == 1000
    replay = post(client, "/sims/bulk", body, key="bulk-1")
    assert replay.json()["id"] == job["id"] and len(fake.calls) == 10  # no second job
    refused = post(client, f"/sims/{sims[0].iccid}/disable")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_state"


@pytest.mark.django_db
def test_label_and_single_enable(fake):
    client = vendor_client()
    [sim] = sims_for(client.vendor, 1, status="disabled")
    labelled = post(client, f"/sims/{sim.iccid}/label", {"label": "meter-9"})
    assert labelled.status_code == 200 and labelled.json()["label"] == "meter-9"
    enabled = post(client, f"/sims/{sim.iccid}/enable")
    assert enabled.json()["status"] == "enabled"
    assert fake.sims[sim.iccid].label == "meter-9"


@pytest.mark.django_db
def test_sms_round_trip_to_many_sims_and_their_replies(fake, django_capture_on_commit_callbacks):
    client = vendor_client()
    sims = sims_for(client.vendor, 3)
    with django_capture_on_commit_callbacks(execute=True):
        sent = post(client, "/sms", {"iccids": [s.iccid for s in sims], "text": "ping"})
    assert sent.status_code == 201 and len(sent.json()) == 3
    assert set(IotSms.objects.values_list("status", flat=True)) == {"pending"}
    with django_capture_on_commit_callbacks(execute=False):
        replies = post(client, f"/sims/{sims[0].iccid}/sms/sync").json()
    assert [(r["direction"], r["text"]) for r in replies][:1] == [("mo", "echo: ping")]
    listed = client.get(f"{BASE}/sms", {"direction": "mo"}).json()
    assert [r["iccid"] for r in listed["results"]] == [sims[0].iccid]
    assert listed["count"] == 1
    assert IotSms.objects.get(sim=sims[0], direction="mt").status == "delivered"
    # Syncing again stores no second copy of the reply.
    post(client, f"/sims/{sims[0].iccid}/sms/sync")
    assert IotSms.objects.filter(direction="mo").count() == 1


@pytest.mark.django_db
def test_usage_series_of_a_sim_and_of_the_fleet(fake):
    client = vendor_client()
    [a, b] = sims_for(client.vendor, 2)
    fake.usage = lambda iccid, start, end: [IotUsage(date(2026, 11, 2), 5 * MB, 0, 0, 1, 0)]
    for sim in (a, b):
        services.usage_sync(sim=sim, start=date(2026, 11, 2), end=date(2026, 11, 2))
    assert IotUsageDay.objects.filter(vendor=client.vendor).count() == 2
    one = client.get(f"{BASE}/sims/{a.iccid}/usage", {"start": "2026-11-01", "end": "2026-11-03"})
    assert one.json()["total_data_mb"] == "5.00"
    assert [d["data_mb"] for d in one.json()["days"]] == ["0.00", "5.00", "0.00"]
    fleet = client.get(f"{BASE}/usage", {"start": "2026-11-01", "end": "2026-11-30"}).json()
    assert fleet["total_data_mb"] == "10.00" and len(fleet["days"]) == 30
    bad = client.get(f"{BASE}/usage", {"start": "2026-11-05", "end": "2026-11-01"})
    assert bad.status_code == 400


@pytest.mark.django_db
def test_top_up_is_paid_from_the_wallet_and_402_without_funds(fake):
    client = vendor_client()
    [sim] = sims_for(client.vendor, 1)
    poor = post(client, f"/sims/{sim.iccid}/topups")
    assert poor.status_code == 402
    assert poor.json()["error"]["code"] == "insufficient_funds"
    assert poor.json()["error"]["details"]["required"] == {"amount": "14.99", "currency": "USD"}
    fund(client.vendor, 5_000)
    paid = post(client, f"/sims/{sim.iccid}/topups")
    assert paid.status_code == 201
    assert paid.json()["amount"] == {"amount": "14.99", "currency": "USD"}
    assert (paid.json()["status"], paid.json()["data_mb"]) == ("completed", "500.00")
    assert vendor_balance(vendor=client.vendor).available.amount == 5_000 - 1499


@pytest.mark.django_db
def test_auto_top_up_settings_per_sim_and_fleet(fake):
    client = vendor_client()
    [sim] = sims_for(client.vendor, 1)
    fleet = post(client, "/auto-topup", {"auto_topup": True, "monthly_cap": 10})
    assert fleet.json() == {"auto_topup": True, "monthly_cap": 10, "sim_monthly_cap": 1}
    assert client.get(f"{BASE}/auto-topup").json()["monthly_cap"] == 10
    per_sim = post(client, f"/sims/{sim.iccid}/auto-topup", {"enabled": False, "monthly_cap": 2})
    assert (per_sim.json()["auto_topup"], per_sim.json()["auto_topup_monthly_cap"]) == (False, 2)
    assert services.auto_topup_enabled(IotSim.objects.get(pk=sim.pk)) is False


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_top_ups_charge_once_per_idempotency_key(fake):
    client = vendor_client()
    [sim] = sims_for(client.vendor, 1)
    fund(client.vendor, 1_000_000)
    key = client.key
    barrier = threading.Barrier(20)

    def buy(i: int) -> int:
        try:
            barrier.wait(timeout=30)
            # 20 requests, two keys: the first ten share one, the others another
            answer = post(key_client(key), f"/sims/{sim.iccid}/topups", key=f"race-{i % 2}")
            return answer.status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(buy, range(20)))
    assert set(codes) <= {201, 409}, codes
    charges = Transaction.objects.filter(reference__startswith="iot-topup:", kind="order_charge")
    assert charges.count() == 2
    assert fake.calls.count(("topup", sim.iccid)) == 2
    assert vendor_balance(vendor=client.vendor).available.amount == 1_000_000 - 2 * 1499


@pytest.mark.django_db
def test_every_per_sim_action_shares_one_base_and_a_replay_acts_once(fake):
    from django.urls import get_resolver

    from iot import api

    per_sim = [
        p.callback.cls
        for p in get_resolver("iot.urls").url_patterns
        if "<str:iccid>/" in str(p.pattern) and hasattr(p.callback.cls, "post")
    ]
    assert len(per_sim) >= 7
    assert all(issubclass(view, api.SimActionApi) for view in per_sim)
    client = vendor_client()
    [sim] = sims_for(client.vendor, 1)
    first = post(client, f"/sims/{sim.iccid}/label", {"label": "pump"}, key="k1")
    again = post(client, f"/sims/{sim.iccid}/label", {"label": "pump"}, key="k1")
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert [c for c in fake.calls if c[0] == "update"] == [
        ("update", fake.calls[0][1])
    ]  # one provider call
    other = vendor_client()
    assert post(other, f"/sims/{sim.iccid}/label", {"label": "x"}).status_code == 404
