"""The buyer-facing order lists stay index reads as a buyer's history grows: with 20,000
orders per vendor and per customer, PostgreSQL reads a page through the buyer's own index
and stops at the page, and counts without touching the table's heap at large.
(The vendor statement's plan at 1M ledger entries is checked by `make bench`.)"""

from __future__ import annotations

import re

import pytest
from django.db import connection

from orders import selectors
from tests.factories import UserFactory, VendorFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ROWS = 20_000


def _seed(*, vendor_id: int | None, customer_id: int | None) -> None:
    channel = "b2b" if vendor_id is not None else "b2c"
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO orders_order (kind, channel, customer_id, vendor_id, status, currency,
                total, cost_total, customer_reference, target_iccid, provider_reference,
                failure_reason, review_reasons, provisioning_attempts, created_at, updated_at)
            SELECT 'esim', %s, %s, %s, 'completed', 'USD', 450, 139, '', '', '', '', '[]', 0,
                   now() - make_interval(secs => g), now() - make_interval(secs => g)
            FROM generate_series(1, %s) AS g
            """,
            [channel, customer_id, vendor_id, ROWS],
        )


@pytest.fixture
def histories():
    vendor, other_vendor = VendorFactory(), VendorFactory()
    customer, other_customer = UserFactory(), UserFactory()
    for v in (vendor, other_vendor):
        _seed(vendor_id=v.pk, customer_id=None)
    for c in (customer, other_customer):
        _seed(vendor_id=None, customer_id=c.pk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orders_order")
    return vendor, customer


def _plan(queryset) -> str:
    return queryset.explain(analyze=True, costs=False)


def _rows_read(plan: str, index: str) -> int:
    match = re.search(rf"Index (?:Only )?Scan[^\n]*{index}[^\n]*actual[^\n]*rows=(\d+)", plan)
    assert match, f"{index} not used:\n{plan}"
    return int(match.group(1))


@pytest.mark.parametrize(
    ("buyer", "index"), [("vendor", "order_vendor_recent"), ("customer", "order_customer_recent")]
)
def test_a_page_of_a_long_order_history_reads_one_page_of_the_buyers_index(histories, buyer, index):
    vendor, customer = histories
    scope = {"vendor": vendor} if buyer == "vendor" else {"customer": customer}
    page = selectors.order_list_for_buyer(**scope)[:20]
    plan = _plan(page)
    assert "Seq Scan" not in plan, plan
    assert _rows_read(plan, index) <= 21  # stops at the page, whatever the history

    # The page's `count` (API.md lists carry one) reads only this buyer's index entries.
    query = selectors.order_list_for_buyer(**scope).order_by().values("pk").query
    sql, params = query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN ANALYZE SELECT COUNT(*) FROM ({sql}) AS page", params)  # noqa: S608
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan, plan
    assert _rows_read(plan, rf"(?:{index}|orders_order_{buyer}_id_\w+)") == ROWS


def _seed_deliveries(endpoint, rows: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH events AS (
                INSERT INTO webhooks_webhookevent (vendor_id, public_id, type, data, created_at)
                SELECT %s, 'msg_' || %s || '_' || g, 'order.completed', '{}', now()
                FROM generate_series(1, %s) AS g
                RETURNING id
            )
            INSERT INTO webhooks_webhookdelivery (event_id, endpoint_id, vendor_id, status,
                schedule_attempts, attempt_count, last_error, created_at)
            SELECT id, %s, %s, 'succeeded', 1, 1, '', now() FROM events
            """,
            [endpoint.vendor_id, endpoint.pk, rows, endpoint.pk, endpoint.vendor_id],
        )


def test_a_webhook_delivery_page_never_walks_other_vendors_deliveries():
    """A small vendor's log sits under a big vendor's newer deliveries: its page is read
    from its own index range, not found by walking everyone's newest deliveries."""
    from tests.webhooks.factories import endpoint_for
    from webhooks.selectors import delivery_list

    small, big = (endpoint_for(VendorFactory(), events=["order.completed"])[0] for _ in range(2))
    _seed_deliveries(small, 500)
    _seed_deliveries(big, ROWS)  # newer than every one of the small vendor's
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE webhooks_webhookdelivery")
    plan = _plan(delivery_list(vendor=small.vendor)[:20])
    assert "Seq Scan on webhooks_webhookdelivery" not in plan, plan
    assert "Rows Removed by Filter" not in plan, plan
    assert _rows_read(plan, "webhook_delivery_vendor_recent") <= 21
    # The big vendor's page stops at the page too, through whichever index.
    plan = _plan(delivery_list(vendor=big.vendor)[:20])
    assert "Seq Scan" not in plan and "Rows Removed by Filter" not in plan, plan
