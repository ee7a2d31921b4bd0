"""The eSIM Go v2.4 client: catalogue shapes, error mapping, retries and timeouts."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from responses import matchers

from providers import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
)
from providers import esimgo as esimgo_module
from ttelgo.money import Money

from .esimgo_data import BASE, ITEM_GB, ITEM_UL, KEY, item


@responses.activate
def test_catalogue_bare_array_maps_to_our_bundles(esimgo):
    responses.get(
        f"{BASE}/catalogue",
        json=[ITEM_GB, ITEM_UL],
        match=[matchers.header_matcher({"X-API-Key": KEY})],
    )
    bundles = {b.code: b for b in esimgo.list_bundles()}
    gb = bundles["esim_1GB_7D_GB_V2"]
    assert (gb.data_mb, gb.unlimited, gb.validity_days) == (1000, False, 7)
    assert gb.cost == Money(124, "USD")  # 1.235 rounded up to the cent, never via float
    assert [(c.iso, c.name, c.region) for c in gb.countries] == [("GB", "United Kingdom", "Europe")]
    ul = bundles["esim_UL_3D_FR_V2"]
    assert (ul.data_mb, ul.unlimited, ul.cost) == (0, True, Money(950, "USD"))
    assert len(responses.calls) == 1


@responses.activate
def test_catalogue_wrapped_shape_walks_every_page(esimgo):
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
    assert sorted(b.code for b in esimgo.list_bundles()) == ["a", "b", "c"]
    assert len(responses.calls) == 2


@responses.activate
def test_catalogue_bare_array_pages_until_a_short_page(esimgo, monkeypatch):
    monkeypatch.setattr(esimgo_module, "CATALOGUE_PAGE_SIZE", 2)
    for page, names in ((1, ["a", "b"]), (2, ["c", "d"]), (3, ["e"])):
        responses.get(
            f"{BASE}/catalogue",
            json=[item(n) for n in names],
            match=[matchers.query_param_matcher({"page": str(page), "perPage": "2"})],
        )
    assert sorted(b.code for b in esimgo.list_bundles()) == ["a", "b", "c", "d", "e"]
    assert len(responses.calls) == 3


@responses.activate
def test_400_is_a_permanent_rejection_with_the_provider_message(esimgo, sleeps):
    responses.get(f"{BASE}/esims/nope", status=400, json={"message": "Bundle not found"})
    with pytest.raises(ProviderRejected) as err:
        esimgo.get_esim("nope")
    assert not err.value.transient
    assert err.value.status == 400
    assert "Bundle not found" in str(err.value)
    assert len(responses.calls) == 1 and sleeps == []  # never retried


@responses.activate
def test_401_is_an_auth_error_not_retried(esimgo, sleeps):
    responses.get(f"{BASE}/catalogue", status=401, json={"message": "Invalid API key"})
    with pytest.raises(ProviderAuthError) as err:
        esimgo.list_bundles()
    assert err.value.status == 401 and not err.value.transient
    assert len(responses.calls) == 1 and sleeps == []


@responses.activate
def test_429_waits_what_retry_after_says_then_succeeds(esimgo, sleeps):
    responses.get(
        f"{BASE}/esims/x",
        status=429,
        json={"message": "Too Many Requests"},
        headers={"Retry-After": "7"},
    )
    responses.get(f"{BASE}/esims/x", json={"iccid": "x"})
    assert esimgo.get_esim("x").iccid == "x"
    assert sleeps == [7.0]
    assert len(responses.calls) == 2


@responses.activate
def test_retry_after_is_capped(esimgo, sleeps):
    responses.get(f"{BASE}/esims/x", status=429, headers={"Retry-After": "3600"})
    responses.get(f"{BASE}/esims/x", json={"iccid": "x"})
    esimgo.get_esim("x")
    assert sleeps == [esimgo_module.MAX_RETRY_AFTER]


@responses.activate
def test_503_is_retried_with_backoff(esimgo, sleeps):
    responses.get(f"{BASE}/esims/x", status=503, json={"message": "Processing"})
    responses.get(f"{BASE}/esims/x", status=502)
    responses.get(f"{BASE}/esims/x", json={"iccid": "x"})
    assert esimgo.get_esim("x").iccid == "x"
    assert len(sleeps) == 2 and all(0 < s <= esimgo.backoff_max for s in sleeps)


@responses.activate
def test_persistent_5xx_gives_up_after_max_attempts(esimgo, sleeps):
    responses.get(f"{BASE}/esims/x", status=500, json={"message": "boom"})
    with pytest.raises(ProviderUnavailable) as err:
        esimgo.get_esim("x")
    assert err.value.transient and err.value.status == 500
    assert len(responses.calls) == esimgo.max_attempts
    assert len(sleeps) == esimgo.max_attempts - 1


@responses.activate
def test_timeouts_are_retried(esimgo, sleeps):
    responses.get(f"{BASE}/esims/x", body=requests.ReadTimeout("read timed out"))
    responses.get(f"{BASE}/esims/x", body=requests.ConnectTimeout("connect timed out"))
    responses.get(f"{BASE}/esims/x", json={"iccid": "x"})
    assert esimgo.get_esim("x").iccid == "x"
    assert len(responses.calls) == 3 and len(sleeps) == 2


def test_every_request_has_connect_and_read_timeouts(esimgo, monkeypatch):
    seen = {}

    def fake_request(method, url, **kwargs):
        seen.update(kwargs)
        resp = requests.Response()
        resp.status_code = 200
        resp._content = json.dumps(ITEM_GB).encode()
        return resp

    monkeypatch.setattr(esimgo.session, "request", fake_request)
    esimgo.get_esim("8944500000000000001")
    connect, read = seen["timeout"]
    assert 0 < connect < read


def test_provider_errors_say_whether_they_are_transient():
    assert ProviderRateLimited("x").transient and ProviderUnavailable("x").transient
    assert not ProviderRejected("x").transient and not ProviderError("x").transient
