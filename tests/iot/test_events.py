"""SIM events: read from the provider in 1NCE's shapes, stored once per SIM and provider
id, listed newest first by cursor (per SIM and fleet-wide, another vendor's SIM is a
404), synced on beat and on demand; a status change found through the events fires
`sim.status_changed` once, whoever sees it first."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from iot import services, tasks
from iot.models import IotSim, IotSimEvent
from providers.iot import IotEvent
from providers.onence import TOKEN_CACHE_KEY, OnceProvider
from providers.resilience import build_breaker
from sandbox.iot import SandboxIotProvider, sandbox_iot_fleet_create
from tests.vendors.factories import key_client, vendor_client
from ttelgo.models import OutboxMessage
from ttelgo.outbox import EVENT_PUBLISH_TASK
from vendors.services import api_key_issue, vendor_test_environment

from .fakes import MB, FakeIot, info, sims_for

BASE = "/api/v1/vendor/iot"
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def fake(monkeypatch) -> FakeIot:
    provider = FakeIot()
    monkeypatch.setattr(services, "provider_for", lambda livemode: provider)
    return provider


def status_webhooks() -> list[dict]:
    rows = OutboxMessage.objects.filter(task=EVENT_PUBLISH_TASK).order_by("id")
    return [r.args[2] for r in rows if r.args[1] == "sim.status_changed"]


def ev(iccid: str, n: int, kind: str, minutes: int, description: str = "") -> IotEvent:
    return IotEvent(
        f"e-{n}", iccid, kind, T0 + timedelta(minutes=minutes), "INFO", False, description
    )


def status_event(iccid: str, n: int, minutes: int, to: str) -> IotEvent:
    other = "Enabled" if to == "Disabled" else "Disabled"
    return ev(iccid, n, "SIM state change", minutes, f"SIM status changed from '{other}' to '{to}'")


def test_the_provider_event_types_are_classified():
    cases = {
        ("Update location", ""): ("attach", ""),
        ("Update GPRS location", ""): ("attach", ""),
        ("Purge GPRS location", ""): ("detach", ""),
        ("Create PDP Context", ""): ("session_start", ""),
        ("Delete PDP context", ""): ("session_end", ""),
        ("Quota threshold reached", ""): ("quota_warning", ""),
        ("Generic", "Data quota exhausted"): ("quota_warning", ""),
        ("SIM state change", "from 'Issued' to 'Activated'"): ("status_change", "enabled"),
        ("SIM status change", "from 'Enabled' to 'Disabled'"): ("status_change", "disabled"),
        ("Authentication", ""): ("other", ""),
    }
    for (kind, description), expected in cases.items():
        event = IotEvent("x", "1", kind, T0, description=description)
        assert services.event_classify(event) == expected, kind


@pytest.mark.django_db
def test_events_are_stored_once_and_listed_newest_first_by_cursor(fake):
    client = vendor_client()
    [sim, other] = sims_for(client.vendor, 2)
    fake.sim_events[sim.iccid] = [
        ev(sim.iccid, 1, "Update location", 0),
        ev(sim.iccid, 2, "Create PDP Context", 5),
        ev(sim.iccid, 3, "Delete PDP Context", 65),
    ]
    fake.sim_events[other.iccid] = [ev(other.iccid, 9, "Purge location", 1)]
    assert services.sim_events_sync(sim=sim) == 3
    assert services.sim_events_sync(sim=sim) == 0  # a re-read adds nothing
    tasks.iot_events_sync()  # beat: every assigned SIM, the other one too
    assert IotSimEvent.objects.filter(sim=sim).count() == 3
    row = IotSimEvent.objects.get(sim=other)
    assert (row.kind, row.vendor_id, row.livemode) == ("detach", client.vendor.pk, True)
    page = client.get(f"{BASE}/sims/{sim.iccid}/events", {"page_size": 2}).json()
    assert page["count"] == 3
    assert [e["kind"] for e in page["results"]] == ["session_end", "session_start"]
    rest = client.get(page["next"]).json()
    assert [e["upstream_kind"] for e in rest["results"]] == ["Update location"]
    fleet = client.get(f"{BASE}/events", {"kind": "detach"}).json()
    assert [e["iccid"] for e in fleet["results"]] == [other.iccid]
    assert client.get(f"{BASE}/events").json()["count"] == 4
    bad = client.get(f"{BASE}/events", {"colour": "red"})
    assert bad.status_code == 400


@pytest.mark.django_db
def test_on_demand_sync_and_another_vendors_sim_is_404(fake):
    client = vendor_client()
    [sim] = sims_for(client.vendor, 1)
    fake.sim_events[sim.iccid] = [ev(sim.iccid, 1, "Update location", 0)]
    answer = client.post(
        f"{BASE}/sims/{sim.iccid}/events/sync", {}, format="json", HTTP_IDEMPOTENCY_KEY="s1"
    )
    assert answer.status_code == 200 and [e["kind"] for e in answer.json()] == ["attach"]
    intruder = vendor_client()
    assert intruder.get(f"{BASE}/sims/{sim.iccid}/events").status_code == 404
    assert intruder.get(f"{BASE}/events").json()["count"] == 0
    synced = intruder.post(
        f"{BASE}/sims/{sim.iccid}/events/sync", {}, format="json", HTTP_IDEMPOTENCY_KEY="s2"
    )
    assert synced.status_code == 404


@pytest.mark.django_db
def test_a_status_change_in_events_and_in_the_sim_list_fires_once(fake):
    vendor = vendor_client().vendor
    [sim] = sims_for(vendor, 1)
    fake.sim_events[sim.iccid] = [status_event(sim.iccid, 1, 0, "Disabled")]
    fake.sims = {sim.iccid: info(sim.iccid, status="disabled")}
    services.sim_events_sync(sim=sim)
    services.fleet_sync()  # the list says disabled too
    services.sim_events_sync(sim=sim)
    sim.refresh_from_db()
    assert sim.status == "disabled"
    [webhook] = status_webhooks()
    assert webhook["previous_status"] == "enabled"
    assert IotSimEvent.objects.get(sim=sim).status == "disabled"


@pytest.mark.django_db
def test_an_older_status_event_read_late_does_not_undo_a_newer_change(fake):
    vendor = vendor_client().vendor
    [sim] = sims_for(vendor, 1)
    IotSim.objects.filter(pk=sim.pk).update(
        status="disabled", status_changed_at=T0 + timedelta(hours=1)
    )
    fake.sim_events[sim.iccid] = [status_event(sim.iccid, 1, 0, "Enabled")]
    services.sim_events_sync(sim=sim)
    sim.refresh_from_db()
    assert sim.status == "disabled" and status_webhooks() == []
    # The newest of several changes wins, one webhook.
    fake.sim_events[sim.iccid] += [
        status_event(sim.iccid, 2, 120, "Enabled"),
        status_event(sim.iccid, 3, 180, "Disabled"),
        status_event(sim.iccid, 4, 240, "Enabled"),
    ]
    services.sim_events_sync(sim=sim)
    sim.refresh_from_db()
    assert sim.status == "enabled" and len(status_webhooks()) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_syncs_of_one_status_change_fire_it_once(fake, monkeypatch):
    recorded: list[str] = []
    record = services.event_record

    def counted(**kwargs):
        recorded.append(kwargs["type"])
        record(**kwargs)

    monkeypatch.setattr(services, "event_record", counted)
    vendor = vendor_client().vendor
    [sim] = sims_for(vendor, 1)
    fake.sim_events[sim.iccid] = [status_event(sim.iccid, 1, 0, "Disabled")]
    fake.sims = {
        sim.iccid: info(sim.iccid, status="disabled", data_left_bytes=400 * MB, sms_left=200)
    }
    barrier = threading.Barrier(8)

    def run(n: int) -> None:
        try:
            barrier.wait()
            if n % 2:
                services.sim_events_sync(sim=IotSim.objects.get(pk=sim.pk))
            else:
                services.sim_refresh(sim=IotSim.objects.get(pk=sim.pk))
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(run, range(8)))
    assert recorded.count("sim.status_changed") == 1
    assert IotSim.objects.get(pk=sim.pk).status == "disabled"
    assert IotSimEvent.objects.filter(sim=sim).count() == 1


@pytest.mark.django_db
def test_the_sandbox_emits_events_and_a_disable_shows_as_one_status_change():
    cache.clear()
    live = vendor_client().vendor
    test_env, _ = vendor_test_environment(vendor=live)
    [sim] = sandbox_iot_fleet_create(vendor=test_env, size=1)
    IotSim.objects.filter(pk=sim.pk).update(activated_at=timezone.now() - timedelta(days=3))
    test_client = key_client(api_key_issue(vendor=test_env, name="t")[1])
    disabled = test_client.post(
        f"{BASE}/sims/{sim.iccid}/disable", {}, format="json", HTTP_IDEMPOTENCY_KEY="d1"
    )
    assert disabled.status_code == 200
    synced = test_client.post(
        f"{BASE}/sims/{sim.iccid}/events/sync", {}, format="json", HTTP_IDEMPOTENCY_KEY="e1"
    )
    kinds = [e["kind"] for e in synced.json()]
    assert kinds[0] == "status_change" and "attach" in kinds and "session_start" in kinds
    assert all(e["livemode"] is False for e in synced.json())
    assert len(status_webhooks()) == 1  # our disable; the event of it adds none
    assert SandboxIotProvider().events(sim.iccid)[0].kind == "SIM state change"


@responses.activate
@pytest.mark.django_db
def test_1nce_events_in_both_shapes_are_stored(monkeypatch):
    base = "https://api.1nce.test/management-api"
    cache.delete(TOKEN_CACHE_KEY)
    once = OnceProvider(
        client_id="cid",
        client_secret="secret",
        base_url=base,
        breaker=build_breaker(
            name=f"t-{uuid.uuid4().hex}", fail_max=50, reset_timeout=60, redis_url=""
        ),
        sleep=lambda s: None,
        limiters={},  # no limiter: not what this test is about
    )
    monkeypatch.setattr(services, "provider_for", lambda livemode: once)
    vendor = vendor_client().vendor
    [sim] = sims_for(vendor, 1)
    responses.post(f"{base}/oauth/token", json={"access_token": "t", "expires_in": 3600})
    responses.get(
        f"{base}/v2/sims/{sim.iccid}/events",
        json=[
            {
                "id": 543839962673704,
                "timestamp": "2026-12-01T11:59:29.000Z",
                "event_type": {"id": 3, "description": "Create PDP Context"},
                "event_severity": {"id": 0, "description": "INFO"},
                "alert": False,
                "description": "New PDP context",
                "sim": {"iccid": sim.iccid},
            },
            {
                "timestamp": "2026-12-01T10:00:00.000+0000",
                "event_type": "Update location",
                "iccid": sim.iccid,
                "event_severity": "INFO",
            },
        ],
    )
    assert services.sim_events_sync(sim=sim) == 2
    rows = list(IotSimEvent.objects.filter(sim=sim).order_by("at"))
    assert [(r.kind, r.severity) for r in rows] == [("attach", "INFO"), ("session_start", "INFO")]
    assert rows[1].provider_id == "543839962673704"


@pytest.mark.django_db
def test_operators_read_a_sims_events_in_the_console_by_its_iccid(fake):
    from django.test import Client

    from tests.console.factories import operator

    client = vendor_client()
    [sim, other] = sims_for(client.vendor, 2)
    fake.sim_events[sim.iccid] = [ev(sim.iccid, 1, "Update location", 0)]
    fake.sim_events[other.iccid] = [ev(other.iccid, 2, "Purge location", 1)]
    services.sim_events_sync(sim=sim)
    services.sim_events_sync(sim=other)
    console = Client()
    console.force_login(operator("support"))
    page = console.get("/admin/iot/iotsimevent/", {"q": sim.iccid})
    assert page.status_code == 200
    body = page.content.decode()
    assert "Update location" in body and "Purge location" not in body
    detach = console.get("/admin/iot/iotsimevent/", {"kind__exact": "detach"}).content.decode()
    assert "Purge location" in detach and "Update location" not in detach
    # Read-only: events come only from the provider.
    row = IotSimEvent.objects.get(sim=sim)
    assert console.get(f"/admin/iot/iotsimevent/{row.pk}/change/").status_code == 200
    assert console.post(
        f"/admin/iot/iotsimevent/{row.pk}/delete/", {"post": "yes"}
    ).status_code in (
        302,
        403,
    )
    assert IotSimEvent.objects.filter(pk=row.pk).exists()
