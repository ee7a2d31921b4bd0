"""PostgreSQL itself refuses what would break the ledger: each test bypasses the services
and tries it with raw SQL."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from ledger import services as ledger_services
from ledger.models import Entry, Hold, Purpose, Transaction
from ledger.selectors import account_balance
from tests.ledger.factories import fund, platform, postpaid, prepaid, receivable, usd, wallet

pytestmark = [pytest.mark.postgres]


def _sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _new_txn(reference: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_transaction (reference, kind, description, created_at, metadata)"
            " VALUES (%s, 'raw', '', now(), '{}') RETURNING id",
            [reference],
        )
        return cursor.fetchone()[0]


def _entries(txn_id: int, legs: list[tuple[int, int]]) -> None:
    values = ", ".join(["(%s, %s, %s, 0, now())"] * len(legs))
    params: list[int] = []
    for account_id, amount in legs:
        params += [txn_id, account_id, amount]
    insert = (
        "INSERT INTO ledger_entry (transaction_id, account_id, amount, balance_after, created_at)"
    )
    _sql(f"{insert} VALUES {values}", params)


@pytest.mark.django_db
def test_updating_an_entry_is_refused():
    vendor = prepaid()
    fund(vendor, 500)
    entry_id = Entry.objects.values_list("id", flat=True).first()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        _sql("UPDATE ledger_entry SET amount = amount + 1 WHERE id = %s", [entry_id])
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        _sql("UPDATE ledger_entry SET balance_after = 0 WHERE id = %s", [entry_id])


@pytest.mark.django_db
def test_deleting_an_entry_or_transaction_is_refused():
    vendor = prepaid()
    fund(vendor, 500)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        _sql("DELETE FROM ledger_entry")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        _sql("UPDATE ledger_transaction SET reference = 'other'")
    assert Entry.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_unbalanced_transaction_cannot_commit():
    clearing, revenue = platform(Purpose.STRIPE_CLEARING), platform(Purpose.REVENUE)
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        txn = _new_txn("raw:unbalanced")
        _entries(txn, [(clearing.id, 100), (revenue.id, -99)])
    assert not Transaction.objects.filter(reference="raw:unbalanced").exists()
    assert not Entry.objects.exists()
    # a balanced one written the same way commits (platform accounts cache no balance)
    with transaction.atomic():
        txn = _new_txn("raw:balanced")
        _entries(txn, [(clearing.id, 100)])
        _entries(txn, [(revenue.id, -100)])  # legs may arrive in separate statements
    assert account_balance(account=clearing).amount == 100
    assert account_balance(account=revenue).amount == 100


@pytest.mark.django_db(transaction=True)
def test_unbalanced_across_currencies_cannot_commit():
    usd_clear = platform(Purpose.STRIPE_CLEARING)
    eur_rev = ledger_services.account_get_or_create(purpose=Purpose.REVENUE, currency="EUR")
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        txn = _new_txn("raw:fx")
        _entries(txn, [(usd_clear.id, 100), (eur_rev.id, -100)])


@pytest.mark.django_db
def test_an_overdrawn_prepaid_wallet_is_refused():
    vendor = prepaid()
    fund(vendor, 500)
    w, revenue = wallet(vendor), platform(Purpose.REVENUE)
    with pytest.raises(IntegrityError, match="ledger_account_within_floor"), transaction.atomic():
        _entries(_new_txn("raw:overdraw"), [(w.id, 501), (revenue.id, -501)])
    # exactly the balance is fine
    with transaction.atomic():
        _entries(_new_txn("raw:drain"), [(w.id, 500), (revenue.id, -500)])
    w.refresh_from_db()
    assert w.balance == 0


@pytest.mark.django_db
def test_open_holds_count_against_the_wallet_floor_in_the_database():
    vendor = prepaid()
    fund(vendor, 500)
    w, revenue = wallet(vendor), platform(Purpose.REVENUE)
    ledger_services.hold_create(account=w, amount=usd(400), reference="h")
    with pytest.raises(IntegrityError, match="ledger_account_within_floor"), transaction.atomic():
        _entries(_new_txn("raw:spend-reserved"), [(w.id, 101), (revenue.id, -101)])
    with pytest.raises(IntegrityError, match="ledger_account_within_floor"), transaction.atomic():
        _sql(
            "INSERT INTO ledger_hold (account_id, counter_account_id, amount, reference, status,"
            " created_at) VALUES (%s, %s, 101, 'raw:hold', 'pending', now())",
            [w.id, revenue.id],
        )


@pytest.mark.django_db
def test_a_receivable_over_its_credit_limit_is_refused():
    vendor = postpaid(credit_limit=1_000)
    r, revenue = receivable(vendor), platform(Purpose.REVENUE)
    with pytest.raises(IntegrityError, match="ledger_account_within_ceiling"), transaction.atomic():
        _entries(_new_txn("raw:over-limit"), [(r.id, 1_001), (revenue.id, -1_001)])
    ledger_services.hold_create(account=r, amount=usd(600), reference="h")
    with pytest.raises(IntegrityError, match="ledger_account_within_ceiling"), transaction.atomic():
        _entries(_new_txn("raw:over-with-hold"), [(r.id, 401), (revenue.id, -401)])
    with transaction.atomic():
        _entries(_new_txn("raw:up-to-limit"), [(r.id, 400), (revenue.id, -400)])
    r.refresh_from_db()
    assert (r.balance, r.held, r.ceiling) == (400, 600, 1_000)


@pytest.mark.django_db
def test_cached_balance_and_held_cannot_be_written_directly():
    vendor = prepaid()
    fund(vendor, 500)
    w = wallet(vendor)
    for column in ("balance", "held"):
        with pytest.raises(IntegrityError, match="only through"), transaction.atomic():
            _sql(f"UPDATE ledger_account SET {column} = {column} + 1 WHERE id = %s", [w.id])  # noqa: S608
    with pytest.raises(IntegrityError, match="starts at zero"), transaction.atomic():
        _sql(
            "INSERT INTO ledger_account (owner, purpose, currency, type, normal, balance, held,"
            " created_at) VALUES ('platform', 'bank', 'GBP', 'asset', 'debit', 100, 0, now())"
        )
    # the bounds themselves may change (the credit-limit service does exactly this)
    _sql("UPDATE ledger_account SET floor = 0 WHERE id = %s", [w.id])


@pytest.mark.django_db
def test_balance_after_is_stamped_by_the_database():
    vendor = prepaid()
    fund(vendor, 500)
    w, revenue = wallet(vendor), platform(Purpose.REVENUE)
    with transaction.atomic():
        _entries(_new_txn("raw:stamp"), [(w.id, 120), (revenue.id, -120)])  # claims 0
    last = Entry.objects.filter(account=w).order_by("-id").first()
    assert last is not None and last.balance_after == 380


@pytest.mark.django_db
def test_resolved_holds_are_final_and_hold_terms_immutable():
    vendor = prepaid()
    fund(vendor, 500)
    hold = ledger_services.hold_create(account=wallet(vendor), amount=usd(100), reference="h")
    with pytest.raises(IntegrityError, match="immutable"), transaction.atomic():
        _sql("UPDATE ledger_hold SET amount = 1 WHERE id = %s", [hold.id])
    ledger_services.hold_void(hold=hold)
    with pytest.raises(IntegrityError, match="already voided"), transaction.atomic():
        _sql(
            "UPDATE ledger_hold SET status = 'pending', resolved_at = NULL WHERE id = %s",
            [hold.id],
        )
    with pytest.raises(DatabaseError), transaction.atomic():
        _sql("DELETE FROM ledger_hold WHERE id = %s", [hold.id])
    assert Hold.objects.get(id=hold.id).status == Hold.Status.VOIDED
