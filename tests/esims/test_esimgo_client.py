"""The eSIM Go v2.4 client against `responses` mocks of the real shapes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pybreaker
import pytest
import requests
import responses
import time_machine
from django.conf import settings
from responses import matchers

from esims.providers import (
    CircuitOpen,
    OrderItem,
    ProviderAuthError,
    ProviderError,
    ProviderOrder,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from esims.providers import esimgo as esimgo_module
from esims.providers.esimgo import EsimGoProvider, build_breaker
from ttelgo.money import Money

BASE = "https://api.esim-go.test/v2.4"
KEY = "test-esimgo-key"

ITEM_GB = {
    "name": "esim_1GB_7D_GB_V2",
    "description": "eSIM, 1GB, 7 Days, United Kingdom, V2",
    "groups": ["Standard Fixed"],
    "countries": [{"name": "United Kingdom", "region": "Europe", "iso": "GB"}],
    "roamingEnabled": [],
    "dataAmount": 1000,
    "duration": 7,
    "speed": ["4G", "5G"],
    "autostart": True,
    "unlimited": False,
    "price": 1.235,
    "billingType": "FixedCost",
}
ITEM_UL = {
    **ITEM_GB,
    "name": "esim_UL_3D_FR_V2",
    "description": "Unlimited France",
    "countries": [{"name": "France", "region": "Europe", "iso": "FR"}],
    "dataAmount": -1,
    "duration": 3,
    "unlimited": True,
    "price": 9.5,
}


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps) -> EsimGoProvider:
    breaker = build_breaker(
        name=f"t-{uuid.uuid4().hex}", fail_max=50, reset_timeout=60, redis_url=""
    )
    return EsimGoProvider(api_key=KEY, base_url=BASE, currency="USD", breaker=breaker, sleep=sleeps)


def item(name: str, **extra) -> dict:
    return {**ITEM_GB, "name": name, **extra}


@responses.activate
def test_catalogue_bare_array_maps_to_our_bundles(client):
    responses.get(
        f"{BASE}/catalogue",
        json=[ITEM_GB, ITEM_UL],
        match=[matchers.header_matcher({"X-API-Key": KEY})],
    )
    bundles = {b.code: b for b in client.list_bundles()}
    gb = bundles["esim_1GB_7D_GB_V2"]
    assert (gb.data_mb, gb.unlimited, gb.validity_days) == (1000, False, 7)
    assert gb.cost == Money(124, "USD")  # 1.235 rounded up to the cent, never via float
    assert [(c.iso, c.name, c.region) for c in gb.countries] == [("GB", "United Kingdom", "Europe")]
    ul = bundles["esim_UL_3D_FR_V2"]
    assert (ul.data_mb, ul.unlimited, ul.cost) == (0, True, Money(950, "USD"))
    assert len(responses.calls) == 1


@responses.activate
def test_catalogue_wrapped_shape_walks_every_page(client):
    responses.get(
        f"{BASE}/catalogue",
        json={"bundles": [item("a"), item("b")], "pageCount": 2, "rows": 3, "pageSize": 2},
        match=[matchers.query_param_matcher({"page": "1", "perPage": "100"})],
    )
    responses.get(
        f"{BASE}/catalogue",
        json={"bundles": [item("c")], "pageCount": 2, "rows": 3, "pageSize": 2},
        match=[matchers.query_param_matcher({"page": "2", "perPage": "100"})],
    )
    assert sorted(b.code for b in client.list_bundles()) == ["a", "b", "c"]
    assert len(responses.calls) == 2


@responses.activate
def test_catalogue_bare_array_pages_until_a_short_page(client, monkeypatch):
    monkeypatch.setattr(esimgo_module, "CATALOGUE_PAGE_SIZE", 2)
    for page, names in ((1, ["a", "b"]), (2, ["c", "d"]), (3, ["e"])):
        responses.get(
            f"{BASE}/catalogue",
            json=[item(n) for n in names],
            match=[matchers.query_param_matcher({"page": str(page), "perPage": "2"})],
        )
    assert sorted(b.code for b in client.list_bundles()) == ["a", "b", "c", "d", "e"]
    assert len(responses.calls) == 3


@responses.activate
def test_bundle_detail(client):
    responses.get(f"{BASE}/catalogue/bundle/esim_1GB_7D_GB_V2", json=ITEM_GB)
    assert client.get_bundle("esim_1GB_7D_GB_V2").description.startswith("eSIM, 1GB")


@responses.activate
def test_400_is_a_permanent_rejection_with_the_provider_message(client, sleeps):
    responses.get(f"{BASE}/catalogue/bundle/nope", status=400, json={"message": "Bundle not found"})
    with pytest.raises(ProviderRejected) as err:
        client.get_bundle("nope")
    assert not err.value.transient
    assert err.value.status == 400
    assert "Bundle not found" in str(err.value)
    assert len(responses.calls) == 1 and sleeps == []  # never retried


@responses.activate
def test_401_is_an_auth_error_not_retried(client, sleeps):
    responses.get(f"{BASE}/catalogue", status=401, json={"message": "Invalid API key"})
    with pytest.raises(ProviderAuthError) as err:
        client.list_bundles()
    assert err.value.status == 401 and not err.value.transient
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_429_waits_what_retry_after_says_then_succeeds(client, sleeps):
    responses.get(
        f"{BASE}/catalogue/bundle/x",
        status=429,
        json={"message": "Too Many Requests"},
        headers={"Retry-After": "7"},
    )
    responses.get(f"{BASE}/catalogue/bundle/x", json=item("x"))
    assert client.get_bundle("x").code == "x"
    assert sleeps == [7.0]
    assert len(responses.calls) == 2


@responses.activate
def test_retry_after_is_capped(client, sleeps):
    responses.get(f"{BASE}/catalogue/bundle/x", status=429, headers={"Retry-After": "3600"})
    responses.get(f"{BASE}/catalogue/bundle/x", json=item("x"))
    client.get_bundle("x")
    assert sleeps == [esimgo_module.MAX_RETRY_AFTER]


@responses.activate
def test_503_is_retried_with_backoff(client, sleeps):
    responses.get(f"{BASE}/catalogue/bundle/x", status=503, json={"message": "Processing"})
    responses.get(f"{BASE}/catalogue/bundle/x", status=502)
    responses.get(f"{BASE}/catalogue/bundle/x", json=item("x"))
    assert client.get_bundle("x").code == "x"
    assert len(sleeps) == 2 and all(0 < s <= client.backoff_max for s in sleeps)


@responses.activate
def test_persistent_5xx_gives_up_after_max_attempts(client, sleeps):
    responses.get(f"{BASE}/catalogue/bundle/x", status=500, json={"message": "boom"})
    with pytest.raises(ProviderUnavailable) as err:
        client.get_bundle("x")
    assert err.value.transient and err.value.status == 500
    assert len(responses.calls) == client.max_attempts
    assert len(sleeps) == client.max_attempts - 1


@responses.activate
def test_timeouts_are_retried(client, sleeps):
    responses.get(f"{BASE}/catalogue/bundle/x", body=requests.ReadTimeout("read timed out"))
    responses.get(f"{BASE}/catalogue/bundle/x", body=requests.ConnectTimeout("connect timed out"))
    responses.get(f"{BASE}/catalogue/bundle/x", json=item("x"))
    assert client.get_bundle("x").code == "x"
    assert len(responses.calls) == 3 and len(sleeps) == 2


def test_every_request_has_connect_and_read_timeouts(client, monkeypatch):
    seen = {}

    def fake_request(method, url, **kwargs):
        seen.update(kwargs)
        resp = requests.Response()
        resp.status_code = 200
        resp._content = json.dumps(ITEM_GB).encode()
        return resp

    monkeypatch.setattr(client.session, "request", fake_request)
    client.get_bundle("esim_1GB_7D_GB_V2")
    connect, read = seen["timeout"]
    assert 0 < connect < read


@responses.activate
def test_validate_order_maps_the_quote(client):
    responses.post(
        f"{BASE}/orders",
        json={
            "order": [
                {
                    "type": "bundle",
                    "item": "esim_1GB_7D_GB_V2",
                    "quantity": 2,
                    "subTotal": 2.47,
                    "pricePerUnit": 1.235,
                    "allowReassign": False,
                }
            ],
            "total": 2.47,
            "valid": True,
            "currency": "USD",
            "createdDate": "2026-11-21T10:00:00Z",
            "assigned": False,
        },
        match=[
            matchers.json_params_matcher(
                {
                    "type": "validate",
                    "assign": True,
                    "order": [
                        {
                            "type": "bundle",
                            "item": "esim_1GB_7D_GB_V2",
                            "quantity": 2,
                            "iccids": [],
                            "allowReassign": False,
                        }
                    ],
                }
            )
        ],
    )
    quote = client.validate_order([OrderItem("esim_1GB_7D_GB_V2", 2)])
    assert quote.valid and quote.total == Money(247, "USD")
    assert quote.lines[0].unit_cost == Money(124, "USD")


TRANSACTION = {
    "order": [
        {
            "esims": [
                {
                    "iccid": "8944500000000000001",
                    "matchingId": "AAA-1",
                    "smdpAddress": "rsp.esim-go.com",
                },
                {
                    "iccid": "8944500000000000002",
                    "matchingId": "AAA-2",
                    "smdpAddress": "rsp.esim-go.com",
                },
            ],
            "type": "bundle",
            "item": "esim_1GB_7D_GB_V2",
            "iccids": [],
            "quantity": 2,
            "subTotal": 2.47,
            "pricePerUnit": 1.235,
        }
    ],
    "total": 2.47,
    "currency": "USD",
    "status": "Completed",
    "statusMessage": "Order completed",
    "orderReference": "f0e6a1b2-ref",
    "createdDate": "2026-11-21T10:00:00Z",
    "assigned": True,
    "sourceIP": "127.0.0.1",
}


@responses.activate
def test_create_order_maps_esims_and_tags_them_with_our_reference(client):
    responses.post(
        f"{BASE}/orders",
        json=TRANSACTION,
        match=[matchers.json_params_matcher({"type": "transaction"}, strict_match=False)],
    )
    tag1 = responses.put(
        f"{BASE}/esims",
        json={},
        match=[
            matchers.json_params_matcher(
                {"iccid": "8944500000000000001", "customerRef": "order:42"}
            )
        ],
    )
    tag2 = responses.put(
        f"{BASE}/esims",
        json={},
        match=[
            matchers.json_params_matcher(
                {"iccid": "8944500000000000002", "customerRef": "order:42"}
            )
        ],
    )
    order = client.create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=2, reference="order:42")
    assert order.reference == "f0e6a1b2-ref" and order.client_reference == "order:42"
    assert order.status == ProviderOrder.STATUS_COMPLETED and order.is_complete
    first = order.esims[0]
    assert (first.iccid, first.matching_id, first.smdp_address) == (
        "8944500000000000001",
        "AAA-1",
        "rsp.esim-go.com",
    )
    assert order.total == Money(247, "USD")
    assert tag1.call_count == tag2.call_count == 1


@responses.activate
def test_large_order_in_progress_is_processing(client):
    responses.post(
        f"{BASE}/orders",
        json={
            **TRANSACTION,
            "status": "In Progress",
            "order": [{**TRANSACTION["order"][0], "esims": [], "quantity": 8}],
        },
    )
    order = client.create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=8, reference="order:9")
    assert order.status == ProviderOrder.STATUS_PROCESSING and not order.is_complete


def _orders_list(*orders):
    return {"orders": list(orders), "pageCount": 1}


def _listed(ref: str, iccid: str, item_code: str = "esim_1GB_7D_GB_V2", qty: int = 1):
    return {
        "orderReference": ref,
        "status": "Completed",
        "currency": "USD",
        "total": 1.24,
        "createdDate": "2026-11-21T10:00:00Z",
        "order": [{"type": "bundle", "item": item_code, "quantity": qty, "iccids": [iccid]}],
    }


@responses.activate
def test_find_order_returns_the_order_whose_esim_carries_our_reference(client):
    responses.get(f"{BASE}/orders", json=_orders_list(_listed("r1", "111"), _listed("r2", "222")))
    responses.get(f"{BASE}/esims/111", json={"iccid": "111", "customerRef": "order:1"})
    responses.get(f"{BASE}/esims/222", json={"iccid": "222", "customerRef": "order:2"})
    responses.get(f"{BASE}/orders/r2", json={**TRANSACTION, "orderReference": "r2"})
    found = client.find_order("order:2")
    assert found is not None and found.reference == "r2"
    listing = responses.calls[0].request
    assert "includeIccids=true" in listing.url and "createdAt=gte" in listing.url


@responses.activate
def test_find_order_claims_the_single_untagged_match_after_a_crash(client):
    responses.get(f"{BASE}/orders", json=_orders_list(_listed("r1", "111", qty=2)))
    responses.get(f"{BASE}/esims/111", json={"iccid": "111", "customerRef": ""})
    responses.get(f"{BASE}/orders/r1", json={**TRANSACTION, "orderReference": "r1"})
    tags = responses.put(f"{BASE}/esims", json={})
    assert client.find_order("order:7") is None  # without bundle and quantity: no guessing
    found = client.find_order("order:7", bundle_code="esim_1GB_7D_GB_V2", quantity=2)
    assert found is not None and found.reference == "r1"
    assert tags.call_count == 2  # both eSIMs now carry our reference


@responses.activate
def test_find_order_with_nothing_in_the_window_is_none(client):
    responses.get(f"{BASE}/orders", json=[])
    assert client.find_order("order:5", bundle_code="x", quantity=1) is None


@responses.activate
def test_install_details_usage_and_esim_detail(client):
    responses.get(
        f"{BASE}/esims/assignments",
        json=[
            {
                "iccid": "111",
                "matchingId": "M1",
                "smdpAddress": "rsp.esim-go.com",
                "profileStatus": "Released",
                "pin": "1234",
                "puk": "5678",
                "firstInstalledDateTime": None,
            }
        ],
        match=[matchers.query_param_matcher({"reference": "r1"})],
    )
    responses.get(
        f"{BASE}/esims/111/bundles",
        json={
            "bundles": [
                {
                    "name": "esim_1GB_7D_GB_V2",
                    "description": "x",
                    "assignments": [
                        {
                            "id": "a1",
                            "callTypeGroup": "data",
                            "initialQuantity": 1048576000,
                            "remainingQuantity": 524288000,
                            "assignmentDateTime": "2026-11-20T10:00:00Z",
                            "assignmentReference": "r1",
                            "bundleState": "Active",
                            "unlimited": False,
                        }
                    ],
                }
            ]
        },
    )
    responses.get(
        f"{BASE}/esims/111",
        json={
            "iccid": "111",
            "matchingId": "M1",
            "smdpAddress": "rsp.esim-go.com",
            "profileStatus": "Installed",
            "firstInstalledDateTime": "2026-11-20T11:00:00Z",
            "customerRef": "order:1",
        },
    )
    [install] = client.get_install_details("r1")
    assert (install.iccid, install.matching_id, install.smdp_address) == (
        "111",
        "M1",
        "rsp.esim-go.com",
    )
    [usage] = client.get_usage("111")
    assert (usage.initial_mb, usage.remaining_mb, usage.used_mb) == (1000, 500, 500)
    assert usage.state == "active" and usage.bundle_code == "esim_1GB_7D_GB_V2"
    detail = client.get_esim("111")
    assert detail.profile_status == "Installed" and detail.customer_ref == "order:1"
    assert detail.first_installed_at == datetime(2026, 11, 20, 11, tzinfo=UTC)


@responses.activate
def test_topup_orders_the_bundle_onto_the_iccid_and_revoke_refunds(client):
    responses.post(
        f"{BASE}/orders",
        json={**TRANSACTION, "orderReference": "t1"},
        match=[
            matchers.json_params_matcher(
                {
                    "type": "transaction",
                    "assign": True,
                    "order": [
                        {
                            "type": "bundle",
                            "item": "esim_1GB_7D_GB_V2",
                            "quantity": 1,
                            "iccids": ["111"],
                            "allowReassign": False,
                        }
                    ],
                }
            )
        ],
    )
    revoke = responses.delete(
        f"{BASE}/esims/111/bundles/esim_1GB_7D_GB_V2",
        json={},
        match=[matchers.query_param_matcher({"type": "transaction", "refundToBalance": "true"})],
    )
    result = client.apply_topup(iccid="111", bundle_code="esim_1GB_7D_GB_V2", reference="topup:1")
    assert (result.reference, result.status) == ("t1", "completed")
    client.revoke_bundle(iccid="111", bundle_code="esim_1GB_7D_GB_V2")
    assert revoke.call_count == 1


@responses.activate
def test_list_orders_passes_the_window(client):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    responses.get(f"{BASE}/orders", json=_orders_list(_listed("r1", "111")))
    [order] = client.list_orders(created_from=start, created_to=start + timedelta(days=1))
    assert order.reference == "r1" and order.esims[0].iccid == "111"
    url = responses.calls[0].request.url
    assert "createdAt=gte%3A2026-11-01T00%3A00%3A00Z" in url
    assert "createdAt=lte%3A2026-11-02T00%3A00%3A00Z" in url


# --- circuit breaker ----------------------------------------------------------------------
def _two_clients(breaker_factory):
    return [
        EsimGoProvider(
            api_key=KEY,
            base_url=BASE,
            breaker=breaker_factory(),
            sleep=lambda s: None,
            max_attempts=1,
        )
        for _ in range(2)
    ]


def _breaker_opens_and_closes(first: EsimGoProvider, second: EsimGoProvider, fail_max: int):
    failing = responses.get(f"{BASE}/catalogue/bundle/x", status=503)
    for _ in range(fail_max):
        with pytest.raises(ProviderUnavailable):
            first.get_bundle("x")
    calls = failing.call_count
    # the *other* client refuses without sending anything
    with pytest.raises(CircuitOpen) as err:
        second.get_bundle("x")
    assert err.value.transient
    assert failing.call_count == calls
    # a 400 never counts towards opening (checked on a fresh state below)
    responses.replace(responses.GET, f"{BASE}/catalogue/bundle/x", json=item("x"))
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=61), tick=True):
        assert second.get_bundle("x").code == "x"  # half-open trial succeeds -> closed
        assert first.get_bundle("x").code == "x"
        assert first.breaker.current_state == pybreaker.STATE_CLOSED


@responses.activate
def test_breaker_opens_after_repeated_failures_and_closes_after_reset_in_process():
    name = f"t-{uuid.uuid4().hex}"
    first, second = _two_clients(
        lambda: esimgo_module.shared_breaker(name=name, fail_max=3, reset_timeout=60)
    )
    assert first.breaker is second.breaker
    _breaker_opens_and_closes(first, second, 3)


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (run under .ci/services.sh)")
@responses.activate
def test_breaker_state_is_shared_between_clients_through_redis():
    name = f"t-{uuid.uuid4().hex}"
    first, second = _two_clients(
        lambda: build_breaker(name=name, fail_max=3, reset_timeout=60, redis_url=settings.REDIS_URL)
    )
    assert first.breaker is not second.breaker  # separate objects, as in separate processes
    _breaker_opens_and_closes(first, second, 3)


@responses.activate
def test_client_errors_do_not_open_the_breaker():
    breaker = build_breaker(
        name=f"t-{uuid.uuid4().hex}", fail_max=2, reset_timeout=60, redis_url=""
    )
    client = EsimGoProvider(api_key=KEY, base_url=BASE, breaker=breaker, sleep=lambda s: None)
    responses.get(f"{BASE}/catalogue/bundle/x", status=400, json={"message": "bad"})
    for _ in range(5):
        with pytest.raises(ProviderRejected):
            client.get_bundle("x")
    assert breaker.current_state == pybreaker.STATE_CLOSED


def test_provider_errors_say_whether_they_are_transient():
    assert ProviderRateLimited("x").transient and ProviderUnavailable("x").transient
    assert not ProviderRejected("x").transient and not ProviderError("x").transient


# --- buying is never blindly retried ------------------------------------------------------
@responses.activate
@pytest.mark.parametrize(
    "failure",
    [{"body": requests.ReadTimeout("read timed out")}, {"status": 503}, {"status": 500}],
)
def test_order_is_not_retried_when_it_may_have_gone_through(client, sleeps, failure):
    responses.post(f"{BASE}/orders", **failure)
    with pytest.raises(ProviderUnavailable) as err:
        client.create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=1, reference="order:1")
    assert err.value.transient  # the caller checks find_order, then retries
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_order_is_retried_when_the_provider_surely_did_not_act(client, sleeps):
    responses.post(f"{BASE}/orders", body=requests.ConnectTimeout("connect timed out"))
    responses.post(f"{BASE}/orders", status=429, headers={"Retry-After": "3"})
    responses.post(f"{BASE}/orders", json=TRANSACTION)
    responses.put(f"{BASE}/esims", json={})
    order = client.create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=2, reference="order:1")
    assert order.is_complete
    assert len(sleeps) == 2 and sleeps[1] == 3.0


@responses.activate
def test_topup_is_not_retried_after_a_read_timeout(client):
    responses.post(f"{BASE}/orders", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(ProviderUnavailable):
        client.apply_topup(iccid="111", bundle_code="esim_1GB_7D_GB_V2", reference="topup:1")
    assert len(responses.calls) == 1
