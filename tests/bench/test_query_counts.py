"""Query budgets of the requests the benchmark measures. A request that starts issuing more
SQL, or SQL that grows with the vendor's history, fails here before it shows in `make bench`
(docs/PERFORMANCE.md)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund, vendor_client
from vendors.models import Vendor

# One POST /api/v1/vendor/orders (steady state: key already used this minute): key lookup,
# idempotency claim, bundle, overdue-invoice check, order + item + event, wallet and revenue
# accounts, wallet lock, hold check and insert, the provisioning task's outbox row,
# idempotency completion: 14 statements, no savepoint and no read-back (the answer is built
# from the rows just written). Whether ready stock holds the bundle is read from the cached
# set of stocked bundles (no query; a stocked bundle then takes its eSIMs in the same
# transaction). Inside a test transaction the request's transaction is a SAVEPOINT/RELEASE
# pair, hence 16; SQLite posts the hold's `held` in Python (no triggers), one more. (After
# the commit the outbox row is deleted once the broker took the task.)
ORDER_CREATE_QUERIES = {"postgresql": 16, "sqlite": 17}
STATEMENT_QUERIES = 3
BALANCE_QUERIES = 2


@pytest.fixture(autouse=True)
def _request_log_off_the_path(settings):
    # In production the request log is written by a background thread, off the request
    # (tests/vendors/test_request_log.py); the suite writes it inline, which would count here.
    settings.API_REQUEST_LOG = False


@pytest.fixture
def vendor(db):
    bundles_create()
    v = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(v, 10_000_000)
    return vendor_client(v)


def _order(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        resp = client.post(
            "/api/v1/vendor/orders",
            {"bundle_code": BUNDLE_CODE, "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
    assert resp.status_code == 201, resp.content
    return len(ctx.captured_queries)


def _get(client, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(path)
    assert resp.status_code == 200, resp.content
    return len(ctx.captured_queries)


def test_a_vendor_order_stays_within_its_query_budget_whatever_the_history(vendor):
    _order(vendor)  # first use of the key this minute records last_used_at
    first = _order(vendor)
    for _ in range(10):
        _order(vendor)
    assert first <= ORDER_CREATE_QUERIES[connection.vendor]
    assert _order(vendor) == first  # ten more orders in the ledger change nothing


def test_statement_and_balance_reads_do_not_grow_with_the_ledger(vendor):
    _order(vendor)
    statement, balance = (
        _get(vendor, "/api/v1/vendor/ledger"),
        _get(vendor, "/api/v1/vendor/balance"),
    )
    for i in range(30):
        fund(vendor.vendor, 1000 + i)
    assert statement <= STATEMENT_QUERIES and balance <= BALANCE_QUERIES
    assert _get(vendor, "/api/v1/vendor/ledger") == statement
    assert _get(vendor, "/api/v1/vendor/balance") == balance


def test_a_cached_catalogue_answer_costs_no_query_and_matches_the_first(api_client, db):
    from catalogue.models import Country

    bundles_create()
    Country.objects.create(iso="GB", name="United Kingdom")
    path = "/api/v1/catalogue/bundles?country=GB"
    first = api_client.get(path)
    with CaptureQueriesContext(connection) as ctx:
        again = api_client.get(path)
    assert (first["X-Cache"], again["X-Cache"]) == ("miss", "hit")
    assert len(ctx.captured_queries) == 0
    assert again.content == first.content
    for header in ("Content-Type", "Allow"):
        assert again[header] == first[header]
    # a bad filter is never served from the cache, hit or not
    assert api_client.get("/api/v1/catalogue/bundles?country=ZZZ&min_data_mb=x").status_code == 400
