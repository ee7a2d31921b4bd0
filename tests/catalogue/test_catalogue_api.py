"""Catalogue API (API.md "Catalogue" and GET /vendor/catalogue)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalogue.models import Bundle, Country
from catalogue.pricing import minimum_price
from catalogue.services import bundle_overrides_update, catalogue_sync
from tests.factories import VendorFactory
from vendors.models import Vendor, VendorAPIKey

from .factories import EditableCatalogueProvider, pbundle

pytestmark = pytest.mark.django_db

BUNDLES = "/api/v1/catalogue/bundles"


@pytest.fixture
def small_catalogue(django_capture_on_commit_callbacks):
    provider = EditableCatalogueProvider(
        [
            pbundle("gb_1gb_7d", isos=("GB",), data_mb=1000, days=7, cost=300),
            pbundle("gb_10gb_30d", isos=("GB",), data_mb=10000, days=30, cost=1500),
            pbundle("gb_ul_3d", isos=("GB",), unlimited=True, days=3, cost=1200),
            pbundle("fr_5gb_15d", isos=("FR",), data_mb=5000, days=15, cost=800),
            pbundle("eu_3gb_15d", isos=("FR", "DE", "GB"), data_mb=3000, days=15, cost=900),
            pbundle(
                "us_2gb_7d", isos=("US",), region="North America", data_mb=2000, days=7, cost=600
            ),
        ]
    )
    with django_capture_on_commit_callbacks(execute=True):
        catalogue_sync(provider=provider)
    return provider


def codes(resp) -> list[str]:
    assert resp.status_code == 200, resp.content
    return [b["code"] for b in resp.json()["results"]]


def test_bundle_list_shape(api_client, small_catalogue):
    resp = api_client.get(BUNDLES, {"ordering": "price"})
    body = resp.json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 6
    first = body["results"][0]
    bundle = Bundle.objects.get(code=first["code"])
    assert first == {
        "code": bundle.code,
        "name": bundle.name,
        "description": bundle.provider_description,
        "countries": [{"iso": "GB", "name": "Country GB"}],
        "region": "europe",
        "data_mb": 1000,
        "unlimited": False,
        "validity_days": 7,
        "featured": False,
        "price": {"amount": f"{bundle.retail_amount / 100:.2f}", "currency": "USD"},
    }
    assert isinstance(first["price"]["amount"], str)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"country": "GB"}, {"gb_1gb_7d", "gb_10gb_30d", "gb_ul_3d", "eu_3gb_15d"}),
        ({"country": "fr"}, {"fr_5gb_15d", "eu_3gb_15d"}),
        ({"country": "DE"}, {"eu_3gb_15d"}),
        ({"region": "north-america"}, {"us_2gb_7d"}),
        ({"region": "europe", "country": "FR"}, {"fr_5gb_15d", "eu_3gb_15d"}),
        ({"unlimited": "true"}, {"gb_ul_3d"}),
        ({"unlimited": "false", "country": "GB"}, {"gb_1gb_7d", "gb_10gb_30d", "eu_3gb_15d"}),
        ({"min_data_mb": "5000"}, {"gb_10gb_30d", "gb_ul_3d", "fr_5gb_15d"}),
    ],
)
def test_bundle_list_filters(api_client, small_catalogue, params, expected):
    assert set(codes(api_client.get(BUNDLES, params))) == expected


def test_max_price_filter_uses_retail_price(api_client, small_catalogue):
    fr = Bundle.objects.get(code="fr_5gb_15d")
    limit = f"{fr.retail_amount / 100:.2f}"
    got = set(codes(api_client.get(BUNDLES, {"max_price": limit})))
    assert got == set(
        Bundle.objects.filter(retail_amount__lte=fr.retail_amount).values_list("code", flat=True)
    )
    assert "fr_5gb_15d" in got and "gb_10gb_30d" not in got


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", lambda bs: sorted(bs, key=lambda b: (b.retail_amount, b.code))),
        ("-price", lambda bs: sorted(bs, key=lambda b: (-b.retail_amount, b.code))),
        ("data", lambda bs: sorted(bs, key=lambda b: (b.unlimited, b.data_mb, b.retail_amount))),
        (
            "-data",
            lambda bs: sorted(bs, key=lambda b: (not b.unlimited, -b.data_mb, b.retail_amount)),
        ),
        (
            "validity",
            lambda bs: sorted(bs, key=lambda b: (b.validity_days, b.retail_amount, b.code)),
        ),
        (
            "-validity",
            lambda bs: sorted(bs, key=lambda b: (-b.validity_days, b.retail_amount, b.code)),
        ),
        ("name", lambda bs: sorted(bs, key=lambda b: b.code)),
    ],
)
def test_bundle_list_orderings(api_client, small_catalogue, ordering, expected):
    want = [b.code for b in expected(list(Bundle.objects.all()))]
    assert codes(api_client.get(BUNDLES, {"ordering": ordering, "page_size": 100})) == want


def test_default_order_puts_featured_first(api_client, small_catalogue):
    bundle_overrides_update(bundle=Bundle.objects.get(code="gb_10gb_30d"), featured=True)
    assert codes(api_client.get(BUNDLES))[0] == "gb_10gb_30d"


@pytest.mark.parametrize(
    "params",
    [
        {"ordering": "cost"},
        {"min_data_mb": "-1"},
        {"max_price": "abc"},
        {"unlimited": "maybe"},
        {"country": "GBR"},
        {"page_size": "101"},
    ],
)
def test_bad_query_is_a_validation_error_envelope(api_client, small_catalogue, params):
    resp = api_client.get(BUNDLES, params)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "validation_error"
    assert set(resp.json()["error"]["details"]) == {next(iter(params))}


def test_hidden_and_vanished_bundles_are_not_listed(api_client, small_catalogue):
    bundle_overrides_update(bundle=Bundle.objects.get(code="gb_1gb_7d"), hidden=True)
    small_catalogue.bundles = [b for b in small_catalogue.bundles if b.code != "us_2gb_7d"]
    catalogue_sync(provider=small_catalogue)
    listed = set(codes(api_client.get(BUNDLES)))
    assert "gb_1gb_7d" not in listed and "us_2gb_7d" not in listed and len(listed) == 4
    for code in ("gb_1gb_7d", "us_2gb_7d"):
        assert api_client.get(f"{BUNDLES}/{code}").status_code == 404


def test_bundle_detail_and_404_envelope(api_client, small_catalogue):
    resp = api_client.get(f"{BUNDLES}/eu_3gb_15d")
    assert resp.status_code == 200
    assert sorted(c["iso"] for c in resp.json()["countries"]) == ["DE", "FR", "GB"]
    missing = api_client.get(f"{BUNDLES}/no_such_bundle")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["code"] == "not_found" and error["request_id"] == missing["X-Request-ID"]


def test_countries_with_counts_and_from_price(api_client, small_catalogue):
    resp = api_client.get("/api/v1/catalogue/countries")
    assert resp.status_code == 200
    rows = {r["iso"]: r for r in resp.json()}
    assert set(rows) == {"GB", "FR", "DE", "US"}
    cheapest_gb = min(
        Bundle.objects.filter(countries__iso="GB").values_list("retail_amount", flat=True)
    )
    assert rows["GB"]["bundle_count"] == 4
    assert rows["GB"]["from_price"] == {"amount": f"{cheapest_gb / 100:.2f}", "currency": "USD"}
    assert rows["DE"]["bundle_count"] == 1 and rows["GB"]["name"] == "Country GB"


def test_responses_are_cached_and_invalidated_by_sync_and_overrides(
    api_client, small_catalogue, django_capture_on_commit_callbacks
):
    first = api_client.get(BUNDLES, {"country": "FR"})
    assert first["X-Cache"] == "miss"
    with CaptureQueriesContext(connection) as queries:
        again = api_client.get(BUNDLES, {"country": "FR"})
    assert again["X-Cache"] == "hit" and len(queries) == 0 and again.content == first.content

    small_catalogue.bundles = [
        pbundle("fr_5gb_15d", isos=("FR",), data_mb=5000, days=15, cost=2000)
        if b.code == "fr_5gb_15d"
        else b
        for b in small_catalogue.bundles
    ]
    with django_capture_on_commit_callbacks(execute=True):
        catalogue_sync(provider=small_catalogue)
    fresh = api_client.get(BUNDLES, {"country": "FR"})
    assert fresh["X-Cache"] == "miss"
    new_price = Bundle.objects.get(code="fr_5gb_15d").retail_amount
    assert {"amount": f"{new_price / 100:.2f}", "currency": "USD"} in [
        b["price"] for b in fresh.json()["results"]
    ]
    with django_capture_on_commit_callbacks(execute=True):
        bundle_overrides_update(bundle=Bundle.objects.get(code="fr_5gb_15d"), hidden=True)
    assert codes(api_client.get(BUNDLES, {"country": "FR"})) == ["eu_3gb_15d"]


def test_list_query_count_does_not_grow_with_page_size(api_client, synced_catalogue):
    def count(page_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            resp = api_client.get(BUNDLES, {"page_size": page_size, "ordering": "price"})
        assert resp.status_code == 200 and len(resp.json()["results"]) == page_size
        assert resp["X-Cache"] == "miss"
        return len(ctx)

    small, large = count(5), count(100)
    assert small == large == 3  # count, page, countries prefetch


def test_countries_query_count_is_constant(api_client, synced_catalogue):
    with CaptureQueriesContext(connection) as ctx:
        resp = api_client.get("/api/v1/catalogue/countries")
    assert len(resp.json()) == Country.objects.count() >= 60
    assert len(ctx) == 1


# --- vendor catalogue ---------------------------------------------------------------------
def vendor_client(api_client, **vendor_fields):
    vendor = VendorFactory(**vendor_fields)
    _, key = VendorAPIKey.objects.create_key(name="test", vendor=vendor)
    api_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return api_client, vendor


def test_vendor_catalogue_shows_the_vendors_price(api_client, small_catalogue):
    client, _ = vendor_client(api_client, discount_bps=1000)
    resp = client.get("/api/v1/vendor/catalogue", {"country": "US"})
    assert resp.status_code == 200
    [row] = resp.json()["results"]
    bundle = Bundle.objects.get(code="us_2gb_7d")
    expected = max(round(bundle.retail_amount * 0.9), minimum_price(bundle.cost_amount))
    assert row["price"] == {"amount": f"{expected / 100:.2f}", "currency": "USD"}
    assert row["retail_price"]["amount"] == f"{bundle.retail_amount / 100:.2f}"


def test_vendor_prices_differ_by_discount_even_when_cached(api_client, small_catalogue):
    from rest_framework.test import APIClient

    a, _ = vendor_client(APIClient(), discount_bps=0)
    b, _ = vendor_client(APIClient(), discount_bps=2000)
    price_a = a.get("/api/v1/vendor/catalogue", {"country": "GB"}).json()["results"][0]["price"]
    price_b = b.get("/api/v1/vendor/catalogue", {"country": "GB"}).json()["results"][0]["price"]
    assert price_a != price_b


def test_vendor_catalogue_needs_an_active_vendor_key(api_client, small_catalogue):
    assert api_client.get("/api/v1/vendor/catalogue").json()["error"]["code"] == "not_authenticated"
    client, _ = vendor_client(api_client, status=Vendor.Status.PENDING)
    resp = client.get("/api/v1/vendor/catalogue")
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "vendor_not_active"


def test_public_catalogue_ignores_credentials(api_client, small_catalogue):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.get(BUNDLES).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"country": "ZZ"}, "country"),
        ({"region": "atlantis"}, "region"),
        ({"contry": "GB"}, "contry"),
        ({"country": "GB", "sort": "price"}, "sort"),
    ],
)
def test_unknown_countries_regions_and_parameters_are_refused(
    api_client, small_catalogue, params, field
):
    """An unknown country, region or parameter name is a 400 naming it, not an empty 200
    that looks like "no bundles there"."""
    response = api_client.get(BUNDLES, params)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
