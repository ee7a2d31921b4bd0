"""The console's big lists at a size where a wrong plan shows (issue 34), on PostgreSQL:
the order search answers from indexes (no scan of the orders), and a list PostgreSQL
estimates past `ESTIMATE_COUNT_ABOVE` rows takes that estimate for its count."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from tests.factories import UserFactory, VendorFactory
from ttelgo.admin.console import EstimatedCountPaginator

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ROWS = 20_000


@pytest.fixture
def orders():
    vendor = VendorFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO orders_order (kind, channel, vendor_id, status, currency, livemode,
                total, cost_total, customer_reference, target_iccid, provider_reference,
                failure_reason, review_reasons, providers_sent, provisioning_attempts,
                created_at, updated_at)
            SELECT 'esim', 'b2b', %s, 'completed', 'USD', true, 450, 139, 'ref-' || g, '',
                   'prov-' || g, '', '[]', '[]', 0, now() - make_interval(secs => g),
                   now() - make_interval(secs => g)
            FROM generate_series(1, %s) AS g
            """,
            [vendor.pk, ROWS],
        )
        cursor.execute("ANALYZE orders_order")
    return vendor


def test_a_filter_by_a_free_text_column_reads_only_the_newest_rows(orders, monkeypatch):
    """The currency filter's choices: not a DISTINCT over every order."""
    monkeypatch.setattr("ttelgo.admin.console.RecentValuesFieldListFilter.RECENT_ROWS", 100)
    model_admin = admin.site.get_model_admin(Order)
    request = _request()
    changelist = model_admin.get_changelist_instance(request)
    (spec,) = [s for s in changelist.filter_specs if getattr(s, "field_path", "") == "currency"]
    assert list(spec.lookup_choices) == ["USD"]
    plan = spec.lookup_choices.explain()
    assert "Seq Scan on orders_order" not in plan, plan


def _request():
    request = RequestFactory().get("/admin/orders/order/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    return request


@pytest.mark.parametrize(
    "term", ["ref-777", "prov-777", "12345", "8944500000000000777", "pi_abc", "a@b.test"]
)
def test_the_order_search_reads_indexes_not_the_table(orders, term):
    model_admin = admin.site.get_model_admin(Order)
    request = _request()
    found, _ = model_admin.get_search_results(request, model_admin.get_queryset(request), term)
    plan = found.explain()
    assert "Seq Scan on orders_order" not in plan, plan


def test_the_order_search_finds_by_reference_and_vendor_name(orders):
    model_admin = admin.site.get_model_admin(Order)
    request = _request()
    queryset = model_admin.get_queryset(request)
    by_reference, _ = model_admin.get_search_results(request, queryset, "ref-777")
    assert list(by_reference.values_list("customer_reference", flat=True)) == ["ref-777"]
    by_vendor, _ = model_admin.get_search_results(request, queryset, orders.name[2:8])
    assert by_vendor.count() == ROWS


def test_a_big_list_is_counted_from_the_estimate(orders, settings, monkeypatch):
    monkeypatch.setattr("ttelgo.admin.console.ESTIMATE_COUNT_ABOVE", ROWS // 2)
    paginator = EstimatedCountPaginator(Order.objects.all(), 50)
    with CaptureQueriesContext(connection) as ctx:
        estimated = paginator.count
    assert ctx.captured_queries[0]["sql"].startswith("EXPLAIN")
    assert "count(" not in " ".join(q["sql"].lower() for q in ctx.captured_queries)
    assert abs(estimated - ROWS) <= ROWS // 10
    # a big filtered list is estimated too; a small one is counted exactly
    big = EstimatedCountPaginator(Order.objects.filter(livemode=True), 50)
    assert abs(big.count - ROWS) <= ROWS // 10
    filtered = EstimatedCountPaginator(Order.objects.filter(customer_reference="ref-5"), 50)
    assert filtered.count == 1
