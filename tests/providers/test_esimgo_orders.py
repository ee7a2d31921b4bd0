"""The eSIM Go v2.4 client: orders, order lookup by our reference, eSIMs, usage, top-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
import responses
import time_machine
from responses import matchers

from providers import ProviderOrder, ProviderUnavailable
from ttelgo.money import Money

from .esimgo_data import BASE, TRANSACTION


@responses.activate
def test_create_order_maps_esims_and_tags_them_with_our_reference(esimgo):
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
    order = esimgo.create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=2, reference="order:42")
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
def test_large_order_in_progress_is_processing(esimgo):
    responses.post(
        f"{BASE}/orders",
        json={
            **TRANSACTION,
            "status": "In Progress",
            "order": [{**TRANSACTION["order"][0], "esims": [], "quantity": 8}],
        },
    )
    order = esimgo.create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=8, reference="order:9")
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
def test_find_order_returns_the_order_whose_esim_carries_our_reference(esimgo):
    responses.get(f"{BASE}/orders", json=_orders_list(_listed("r1", "111"), _listed("r2", "222")))
    responses.get(f"{BASE}/esims/111", json={"iccid": "111", "customerRef": "order:1"})
    responses.get(f"{BASE}/esims/222", json={"iccid": "222", "customerRef": "order:2"})
    responses.get(f"{BASE}/orders/r2", json={**TRANSACTION, "orderReference": "r2"})
    found = esimgo.find_order("order:2")
    assert found is not None and found.reference == "r2"
    listing = responses.calls[0].request
    assert "includeIccids=true" in listing.url and "createdAt=gte" in listing.url


@responses.activate
def test_find_order_lists_only_from_since_to_now_give_or_take_a_minute_of_clock_skew(esimgo):
    from urllib.parse import parse_qs, urlsplit

    responses.get(f"{BASE}/orders", json=_orders_list())
    since = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    with time_machine.travel(datetime(2026, 11, 21, 10, 7, tzinfo=UTC), tick=False):
        assert esimgo.find_order("order:9", since=since, bundle_code="x", quantity=1) is None
    query = parse_qs(urlsplit(responses.calls[0].request.url).query)
    assert sorted(query["createdAt"]) == ["gte:2026-11-21T09:59:00Z", "lte:2026-11-21T10:08:00Z"]


@responses.activate
def test_find_order_claims_the_single_untagged_match_after_a_crash(esimgo):
    responses.get(f"{BASE}/orders", json=_orders_list(_listed("r1", "111", qty=2)))
    responses.get(f"{BASE}/esims/111", json={"iccid": "111", "customerRef": ""})
    responses.get(f"{BASE}/orders/r1", json={**TRANSACTION, "orderReference": "r1"})
    tags = responses.put(f"{BASE}/esims", json={})
    assert esimgo.find_order("order:7") is None  # without bundle and quantity: no guessing
    found = esimgo.find_order("order:7", bundle_code="esim_1GB_7D_GB_V2", quantity=2)
    assert found is not None and found.reference == "r1"
    assert tags.call_count == 2  # both eSIMs now carry our reference


@responses.activate
def test_find_order_adopts_an_order_none_of_ours_holds_without_reading_its_esims(esimgo):
    """Attempts died before recording what they bought: those orders are interchangeable.
    Without a way to tell which ones our orders hold nothing is taken when several are
    untagged; with one, the first of the right bundle and quantity that none holds is,
    without reading any eSIM's tag."""
    responses.get(
        f"{BASE}/orders",
        json=_orders_list(
            _listed("r0", "000", item_code="esim_3GB_15D_GB_V2"),
            _listed("r1", "111"),
            _listed("r2", "222"),
        ),
    )
    untagged = [
        responses.get(f"{BASE}/esims/{i}", json={"iccid": i, "customerRef": ""})
        for i in ("000", "111", "222")
    ]
    responses.get(f"{BASE}/orders/r2", json={**TRANSACTION, "orderReference": "r2"})
    tags = responses.put(f"{BASE}/esims", json={})
    code = "esim_1GB_7D_GB_V2"
    assert esimgo.find_order("order:7", bundle_code=code, quantity=1) is None  # ambiguous
    reads = sum(r.call_count for r in untagged)
    found = esimgo.find_order(
        "order:7", bundle_code=code, quantity=1, adoptable=lambda ref: ref != "r1"
    )
    assert found is not None and found.reference == "r2"
    assert sum(r.call_count for r in untagged) == reads  # no eSIM read to adopt
    assert tags.call_count == len(found.esims)  # each now tagged with our reference
    assert (
        esimgo.find_order("order:7", bundle_code=code, quantity=1, adoptable=lambda ref: False)
        is None
    )


@responses.activate
def test_find_order_with_nothing_in_the_window_is_none(esimgo):
    responses.get(f"{BASE}/orders", json=[])
    assert esimgo.find_order("order:5", bundle_code="x", quantity=1) is None


@responses.activate
def test_usage_and_esim_detail(esimgo):
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
    [usage] = esimgo.get_usage("111")
    assert (usage.initial_mb, usage.remaining_mb, usage.used_mb) == (1000, 500, 500)
    assert usage.state == "active" and usage.bundle_code == "esim_1GB_7D_GB_V2"
    detail = esimgo.get_esim("111")
    assert detail.profile_status == "Installed" and detail.customer_ref == "order:1"
    assert detail.first_installed_at == datetime(2026, 11, 20, 11, tzinfo=UTC)


@responses.activate
def test_topup_orders_the_bundle_onto_the_iccid_and_revoke_refunds(esimgo):
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
    result = esimgo.apply_topup(iccid="111", bundle_code="esim_1GB_7D_GB_V2", reference="topup:1")
    assert (result.reference, result.status) == ("t1", "completed")
    esimgo.revoke_bundle(iccid="111", bundle_code="esim_1GB_7D_GB_V2")
    assert revoke.call_count == 1


@responses.activate
def test_list_orders_passes_the_window(esimgo):
    start = datetime(2026, 11, 1, tzinfo=UTC)
    responses.get(f"{BASE}/orders", json=_orders_list(_listed("r1", "111")))
    [order] = esimgo.list_orders(created_from=start, created_to=start + timedelta(days=1))
    assert order.reference == "r1" and order.esims[0].iccid == "111"
    url = responses.calls[0].request.url
    assert "createdAt=gte%3A2026-11-01T00%3A00%3A00Z" in url
    assert "createdAt=lte%3A2026-11-02T00%3A00%3A00Z" in url


# --- buying is never blindly retried ------------------------------------------------------
@responses.activate
@pytest.mark.parametrize(
    "failure",
    [{"body": requests.ReadTimeout("read timed out")}, {"status": 503}, {"status": 500}],
)
def test_order_is_not_retried_when_it_may_have_gone_through(esimgo, sleeps, failure):
    responses.post(f"{BASE}/orders", **failure)
    with pytest.raises(ProviderUnavailable) as err:
        esimgo.create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=1, reference="order:1")
    assert err.value.transient  # the caller checks find_order, then retries
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_order_is_retried_when_the_provider_surely_did_not_act(esimgo, sleeps):
    responses.post(f"{BASE}/orders", body=requests.ConnectTimeout("connect timed out"))
    responses.post(f"{BASE}/orders", status=429, headers={"Retry-After": "3"})
    responses.post(f"{BASE}/orders", json=TRANSACTION)
    responses.put(f"{BASE}/esims", json={})
    order = esimgo.create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=2, reference="order:1")
    assert order.is_complete
    assert len(sleeps) == 2 and sleeps[1] == 3.0


@responses.activate
def test_topup_is_not_retried_after_a_read_timeout(esimgo):
    responses.post(f"{BASE}/orders", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(ProviderUnavailable):
        esimgo.apply_topup(iccid="111", bundle_code="esim_1GB_7D_GB_V2", reference="topup:1")
    assert len(responses.calls) == 1


@responses.activate
def test_bundle_compatibility_asks_the_esim_go_endpoint(esimgo):
    responses.get(f"{BASE}/esims/111/compatible/esim_1GB_7D_GB_V2", json={"compatible": True})
    responses.get(f"{BASE}/esims/111/compatible/esim_2GB_7D_JP_V2", json={"compatible": False})
    assert esimgo.bundle_compatible(iccid="111", bundle_code="esim_1GB_7D_GB_V2") is True
    assert esimgo.bundle_compatible(iccid="111", bundle_code="esim_2GB_7D_JP_V2") is False
