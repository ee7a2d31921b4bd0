"""The 1NCE client against `responses` with the documented shapes: the shared OAuth token
(one fetch under concurrent callers, renewed before expiry and on 401), the v2/v1 SIM
paths and their mapping, and the per-family rate limiters."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
import responses
from django.core.cache import cache
from responses import matchers

from providers import ProviderNotFound, ProviderRejected, ProviderUnavailable
from providers.iot import QUOTA_EXHAUSTED, QUOTA_LOW, SIM_DISABLED, SIM_ENABLED, IotSimChange
from providers.onence import BYTES_PER_MB, TOKEN_CACHE_KEY, OnceProvider, mb_to_bytes, parse_time
from providers.resilience import build_breaker

BASE = "https://api.1nce.test/management-api"
ICCID = "8988228066602306770"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingLimiter:
    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def acquire(self, *, timeout: float | None = None) -> None:
        with self.lock:
            self.calls += 1


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiters() -> dict[str, CountingLimiter]:
    return {f: CountingLimiter() for f in ("sims", "oauth", "orders", "products")}


@pytest.fixture
def once(clock, limiters) -> OnceProvider:
    cache.delete(TOKEN_CACHE_KEY)
    breaker = build_breaker(
        name=f"t-{uuid.uuid4().hex}", fail_max=50, reset_timeout=60, redis_url=""
    )
    return OnceProvider(
        client_id="cid",
        client_secret="secret",
        base_url=BASE,
        breaker=breaker,
        sleep=lambda s: None,
        limiters=limiters,  # type: ignore[arg-type]
        clock=clock,
    )


def token_response(token: str = "tok-1", expires_in: int = 3600) -> dict:  # noqa: S107
    return {
        "status_code": 200,
        "access_token": token,
        "token_type": "bearer",
        "expires_in": expires_in,
        "userId": "user",
        "scope": "all",
    }


SIM_V1 = {
    "iccid": ICCID,
    "iccid_with_luhn": ICCID + "1",
    "imsi": "901405100000017",
    "current_imsi": "901405100000017",
    "msisdn": "882285100000017",
    "imei": "356938035643809",
    "imei_lock": True,
    "status": "Enabled",
    "activation_date": "2018-03-09T07:59:09.000+0000",
    "ip_address": "10.0.0.1",
    "current_quota": 500,
    "quota_status": {"id": 1, "description": "less than 20% left"},
    "current_quota_SMS": 250,
    "quota_status_SMS": {"id": 2, "description": "exhausted"},
    "label": "pump-7",
}


@responses.activate
def test_token_is_fetched_once_with_basic_auth_and_reused(once):
    token_call = responses.post(
        f"{BASE}/oauth/token",
        json=token_response(),
        match=[matchers.json_params_matcher({"grant_type": "client_credentials"})],
    )
    responses.get(
        f"{BASE}/v2/sims/{ICCID}",
        json=SIM_V1,
        match=[matchers.header_matcher({"Authorization": "Bearer tok-1"})],
    )
    once.get_sim(ICCID)
    once.get_sim(ICCID)
    assert token_call.call_count == 1
    basic = responses.calls[0].request.headers["Authorization"]
    assert basic == "Basic " + base64.b64encode(b"cid:secret").decode()


@responses.activate
def test_ten_concurrent_callers_make_one_token_call(once, clock, limiters):
    token_call = responses.post(f"{BASE}/oauth/token", json=token_response())
    responses.get(f"{BASE}/v2/sims/{ICCID}", json=SIM_V1)
    # Ten processes' worth of clients sharing the cache, started together.
    clients = [
        OnceProvider(
            client_id="cid",
            client_secret="secret",
            base_url=BASE,
            breaker=once.breaker,
            sleep=lambda s: __import__("time").sleep(0.01),
            limiters=limiters,  # type: ignore[arg-type]
            clock=clock,
        )
        for _ in range(10)
    ]
    barrier = threading.Barrier(10)

    def call(client: OnceProvider) -> str:
        barrier.wait()
        return client.get_sim(ICCID).iccid

    with ThreadPoolExecutor(10) as pool:
        assert list(pool.map(call, clients)) == [ICCID] * 10
    assert token_call.call_count == 1


@responses.activate
def test_token_is_renewed_before_it_expires(once, clock):
    token_call = responses.post(f"{BASE}/oauth/token", json=token_response())
    responses.get(f"{BASE}/v2/sims/{ICCID}", json=SIM_V1)
    once.get_sim(ICCID)
    clock.now += 3600 - 400  # still valid, outside the 300 s margin
    once.get_sim(ICCID)
    assert token_call.call_count == 1
    clock.now += 200  # inside the margin: renewed before 1NCE would refuse it
    once.get_sim(ICCID)
    assert token_call.call_count == 2


@responses.activate
def test_a_401_renews_the_token_and_retries_once(once):
    responses.post(f"{BASE}/oauth/token", json=token_response("old"))
    responses.post(f"{BASE}/oauth/token", json=token_response("new"))
    responses.get(
        f"{BASE}/v2/sims/{ICCID}",
        status=401,
        json={"message": "Unauthorized"},
        match=[matchers.header_matcher({"Authorization": "Bearer old"})],
    )
    responses.get(
        f"{BASE}/v2/sims/{ICCID}",
        json=SIM_V1,
        match=[matchers.header_matcher({"Authorization": "Bearer new"})],
    )
    assert once.get_sim(ICCID).iccid == ICCID
    assert cache.get(TOKEN_CACHE_KEY)[0] == "new"


@responses.activate
def test_sim_fields_map_to_ours(once):
    responses.post(f"{BASE}/oauth/token", json=token_response())
    responses.get(f"{BASE}/v2/sims/{ICCID}", json=SIM_V1)
    sim = once.get_sim(ICCID)
    assert (sim.iccid, sim.imsi, sim.msisdn, sim.label) == (
        ICCID,
        "901405100000017",
        "882285100000017",
        "pump-7",
    )
    assert sim.status == SIM_ENABLED and sim.imei_lock is True
    assert sim.data_left_bytes == 500 * BYTES_PER_MB and sim.sms_left == 250
    assert (sim.data_quota_state, sim.sms_quota_state) == (QUOTA_LOW, QUOTA_EXHAUSTED)
    assert sim.activated_at == datetime(2018, 3, 9, 7, 59, 9, tzinfo=UTC)


@responses.activate
def test_sim_list_pages_by_headers(once):
    responses.post(f"{BASE}/oauth/token", json=token_response())
    responses.get(
        f"{BASE}/v2/sims",
        json=[SIM_V1, {**SIM_V1, "iccid": "2", "status": "Disabled"}],
        headers={"X-Total-Pages": "3", "X-Total-Count": "250", "X-Current-Page": "1"},
        match=[matchers.query_param_matcher({"page": "1", "pageSize": "100"})],
    )
    page = once.list_sims(page=1, page_size=500)  # capped at 1NCE's maximum
    assert (page.total_pages, page.total_count) == (3, 250)
    assert [s.status for s in page.sims] == [SIM_ENABLED, SIM_DISABLED]


@responses.activate
def test_updates_send_the_documented_bodies(once):
    responses.post(f"{BASE}/oauth/token", json=token_response())
    one = responses.put(
        f"{BASE}/v2/sims/{ICCID}",
        match=[matchers.json_params_matcher({"iccid": ICCID, "status": "Disabled"})],
    )
    bulk = responses.post(
        f"{BASE}/v2/sims",
        status=201,
        match=[
            matchers.json_params_matcher(
                [{"iccid": "1", "label": "a"}, {"iccid": "2", "status": "Enabled"}]
            )
        ],
    )
    once.update_sim(IotSimChange(iccid=ICCID, status=SIM_DISABLED))
    once.update_sims([IotSimChange("1", label="a"), IotSimChange("2", status=SIM_ENABLED)])
    assert one.call_count == bulk.call_count == 1


@responses.activate
def test_usage_strings_in_mb_become_bytes_per_day(once):
    responses.post(f"{BASE}/oauth/token", json=token_response())
    responses.get(
        f"{BASE}/v1/sims/{ICCID}/usage",
        match=[matchers.query_param_matcher({"start_dt": "2026-11-01", "end_dt": "2026-11-02"})],
        json={
            "stats": [
                {
                    "date": "2026-11-01",
                    "data": {
                        "volume": "1.5",
                        "volume_rx": "1.0",
                        "volume_tx": "0.5",
                        "cost": "0",
                        "traffic_type": {"id": 5, "description": "Data", "unit": "MB"},
                    },
                    "sms": {"volume": "3", "volume_rx": "1", "volume_tx": "2", "cost": "3"},
                }
            ]
        },
    )
    [day] = once.usage(ICCID, start=date(2026, 11, 1), end=date(2026, 11, 2))
    assert day.day == date(2026, 11, 1)
    assert (day.data_bytes, day.data_rx_bytes) == (1572864, BYTES_PER_MB)
    assert (day.sms_mo, day.sms_mt, day.sms) == (1, 2, 3)


@responses.activate
def test_quota_v1_and_v2_shapes(once):
    responses.post(f"{BASE}/oauth/token", json=token_response())
    responses.get(
        f"{BASE}/v2/sims/{ICCID}/quota/data",
        json={
            "volume": 12.5,
            "total_volume": 500,
            "expiry_date": "2029-01-01 00:00:00",
            "peak_throughput": 1000000,
            "last_volume_added": 500,
            "threshold_percentage": 20,
        },
    )
    responses.get(
        f"{BASE}/v2/sims/{ICCID}/quota/sms",
        json={
            "id": 7,
            "status": {"id": 0, "description": "EXHAUSTED"},
            "volume": 0,
            "total_volume": 250,
        },
    )
    data = once.quota(ICCID, service="data")
    assert data.left == 12 * BYTES_PER_MB + BYTES_PER_MB // 2
    assert data.total == 500 * BYTES_PER_MB and data.threshold_percent == 20
    assert data.expires_at == datetime(2029, 1, 1, tzinfo=UTC)
    sms = once.quota(ICCID, service="sms")
    assert (sms.left, sms.total, sms.state) == (0, 250, QUOTA_EXHAUSTED)


@responses.activate
def test_topup_returns_the_order_number_and_is_never_resent(once):
    responses.post(f"{BASE}/oauth/token", json=token_response())
    responses.post(
        f"{BASE}/v2/sims/{ICCID}/topup",
        status=201,
        headers={"Location": f"{BASE}/v1/orders/4711"},
        match=[matchers.query_param_matcher({"payment_method": "banktransfer"})],
    )
    assert once.topup(ICCID) == "4711"
    responses.post(f"{BASE}/v2/sims/9/topup", status=502)
    with pytest.raises(ProviderUnavailable):  # a 5xx: may have bought, so not retried
        once.topup("9")
    assert len([c for c in responses.calls if "/v2/sims/9/topup" in c.request.url]) == 1


@responses.activate
def test_auto_topup_and_sms(once):
    responses.post(f"{BASE}/oauth/token", json=token_response())
    auto = responses.post(
        f"{BASE}/v2/sims/autoTopup",
        status=201,
        match=[matchers.json_params_matcher({"enabled": True, "iccids": [ICCID]})],
    )
    responses.post(f"{BASE}/v2/sims/{ICCID}/sms", status=201, json={"id": 99})
    responses.get(
        f"{BASE}/v2/sims/{ICCID}/sms",
        match=[matchers.query_param_matcher({"page": "1", "per_page": "100"})],
        json=[
            {
                "id": 100,
                "submit_date": "2026-12-01T10:00:00.000Z",
                "iccid": ICCID,
                "payload": "pong",
                "status": {"id": 4, "description": "DELIVERED"},
                "sms_type": {"id": 2, "description": "MO"},
                "source_address": "882285100000017",
            }
        ],
    )
    once.auto_topup_set([ICCID], enabled=True)
    assert auto.call_count == 1
    assert once.sms_send(ICCID, text="ping") == "99"
    sent = json.loads(responses.calls[-1].request.body)
    assert sent == {"payload": "ping", "dcs": 0}
    [reply] = once.sms_list(ICCID)
    assert (reply.direction, reply.text, reply.status) == ("mo", "pong", "delivered")


@responses.activate
def test_events_in_both_shapes(once):
    responses.post(f"{BASE}/oauth/token", json=token_response())
    responses.get(
        f"{BASE}/v2/sims/{ICCID}/events",
        json={
            "events": [
                {
                    "timestamp": "2026-12-01T10:00:00.000+0000",
                    "event_type": "Update location",
                    "iccid": ICCID,
                    "alert": False,
                    "event_severity": "INFO",
                }
            ],
            "totalEvents": 1,
            "totalPages": 1,
        },
    )
    responses.get(
        f"{BASE}/v2/sims/2/events",
        json=[
            {
                "id": "e-1",
                "timestamp": "2026-12-01T10:00:00Z",
                "event_type": {"id": 3, "description": "Delete PDP context"},
                "event_severity": {"id": 0, "description": "INFO"},
                "alert": True,
                "sim": {"iccid": "2"},
            }
        ],
    )
    [v1] = once.events(ICCID)
    assert (v1.kind, v1.severity, v1.iccid) == ("Update location", "INFO", ICCID)
    [v2] = once.events("2")
    assert (v2.provider_id, v2.kind, v2.alert) == ("e-1", "Delete PDP context", True)


@responses.activate
def test_orders_products_on_v1_and_their_own_limiter(once, limiters):
    responses.post(f"{BASE}/oauth/token", json=token_response())
    responses.get(
        f"{BASE}/v1/orders",
        json=[
            {
                "order_number": 4711,
                "order_type": "TOPUP",
                "order_date": "2026-12-01T10:00:00.000Z",
                "order_status": "COMPLETED",
                "invoice_amount": "10.00",
                "currency": {"id": 1, "code": "EUR"},
                "sims": [{"iccid": ICCID}],
            }
        ],
    )
    responses.get(
        f"{BASE}/v1/products",
        json=[
            {
                "id": 1,
                "product": "1NCE Lifetime Flat",
                "package_size": 1,
                "one_time_charges": [{"name": "SIM", "amount_net": "10.00", "currency": "EUR"}],
            }
        ],
    )
    [order] = once.list_orders()
    assert (order.number, order.kind, order.invoice_amount, order.iccids) == (
        "4711",
        "TOPUP",
        "10.00",
        (ICCID,),
    )
    [product] = once.list_products()
    assert product.one_time_charges[0].amount == "10.00"
    assert limiters["oauth"].calls == 1
    assert limiters["orders"].calls == 1 and limiters["products"].calls == 1
    assert limiters["sims"].calls == 0


@responses.activate
def test_errors_map_to_the_provider_hierarchy(once):
    responses.post(f"{BASE}/oauth/token", json=token_response())
    responses.get(f"{BASE}/v2/sims/404", status=404, json={"message": "not found"})
    responses.put(
        f"{BASE}/v2/sims/422",
        status=422,
        json={"message": "SIM is expired and cannot be modified via API."},
    )
    with pytest.raises(ProviderNotFound):
        once.get_sim("404")
    with pytest.raises(ProviderRejected, match="expired"):
        once.update_sim(IotSimChange("422", label="x"))


def test_helpers_parse_every_documented_form():
    assert mb_to_bytes("0.5") == BYTES_PER_MB // 2 and mb_to_bytes(None) == 0
    for text in ("2029-01-01T00:00:00.000Z", "2029-01-01T00:00:00.000+0000", "2029-01-01 00:00:00"):
        assert parse_time(text) == datetime(2029, 1, 1, tzinfo=UTC)
