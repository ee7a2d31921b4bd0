"""The integrity check finds planted damage and never repairs it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from billing import services
from ledger import services as ledger_services
from ledger.integrity import ledger_integrity_check
from ledger.models import Account, Transaction
from tests.ledger.factories import fund, prepaid, usd, wallet

pytestmark = pytest.mark.django_db


@contextmanager
def bypassing_triggers() -> Iterator[None]:
    """Plant damage the way a bad migration or a manual psql session could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            yield
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")


def _sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def codes() -> list[str]:
    return sorted(f.code for f in ledger_integrity_check())


def test_a_healthy_ledger_has_no_findings():
    vendor = prepaid()
    fund(vendor, 1_000)
    services.vendor_order_reserve(vendor=vendor, order_id=1, amount=usd(100))
    services.vendor_order_capture(order_id=1, cost=usd(60))
    ledger_services.b2c_payment_captured(amount=usd(300), reference="pi")
    assert ledger_integrity_check() == []


def test_a_drifted_cached_balance_is_reported_and_left_alone():
    vendor = prepaid()
    fund(vendor, 1_000)
    account = wallet(vendor)
    with bypassing_triggers():
        _sql("UPDATE ledger_account SET balance = balance + 7 WHERE id = %s", [account.id])
    (finding,) = ledger_integrity_check()  # entries and their balance_after are intact
    assert (finding.code, finding.object_id) == ("balance_mismatch", account.id)
    assert finding.details == {"cached": 1_007, "entries": 1_000}
    assert Account.objects.get(id=account.id).balance == 1_007  # reported, not fixed


def test_an_unbalanced_transaction_and_a_wrong_held_are_reported():
    vendor = prepaid()
    fund(vendor, 1_000)
    account = wallet(vendor)
    txn = Transaction.objects.get()
    with bypassing_triggers():
        _sql(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount, balance_after,"
            " created_at) VALUES (%s, %s, 5, 0, CURRENT_TIMESTAMP)",
            [txn.id, account.id],
        )
        _sql("UPDATE ledger_account SET held = 3 WHERE id = %s", [account.id])
    assert codes() == [
        "balance_after_mismatch",  # the planted entry claims balance_after 0
        "balance_mismatch",  # the wallet's cache no longer equals its entries
        "held_mismatch",
        "unbalanced_transaction",
    ]


def test_an_empty_transaction_is_reported():
    Transaction.objects.create(reference="empty", kind="x")
    assert codes() == ["empty_transaction"]


def test_holds_left_pending_too_long_are_reported():
    vendor = prepaid()
    fund(vendor, 1_000)
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        services.vendor_order_reserve(vendor=vendor, order_id=9, amount=usd(100))
    with time_machine.travel(datetime(2026, 1, 1, 23, tzinfo=UTC), tick=False):
        assert codes() == []
    with time_machine.travel(datetime(2026, 1, 2, 1, tzinfo=UTC), tick=False):
        (finding,) = ledger_integrity_check()
        assert (finding.code, finding.details["order_id"]) == ("stale_hold", 9)
        assert ledger_integrity_check(max_hold_age=timedelta(days=2)) == []
