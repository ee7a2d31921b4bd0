"""ledger_post, accounts and holds through the service layer (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from billing import services
from billing.accounts import vendor_ledger_account
from ledger import services as ledger_services
from ledger.integrity import ledger_integrity_check
from ledger.models import Account, Entry, Hold, ImmutableRowError, Purpose, Transaction
from ledger.selectors import account_balance, account_entries_sum
from tests.ledger.factories import fund, platform, postpaid, prepaid, receivable, usd, wallet
from ttelgo.errors import DomainError
from ttelgo.money import Money

pytestmark = pytest.mark.django_db


def test_account_get_or_create_returns_one_account_per_owner_purpose_currency():
    vendor = prepaid()
    a = vendor_ledger_account(vendor=vendor, purpose=Purpose.WALLET, currency="USD")
    b = vendor_ledger_account(vendor=vendor, purpose=Purpose.WALLET, currency="USD")
    c = vendor_ledger_account(vendor=vendor, purpose=Purpose.WALLET, currency="EUR")
    assert a.id == b.id != c.id
    assert (a.type, a.normal, a.floor, a.ceiling) == ("liability", "credit", 0, None)
    rev = platform(Purpose.REVENUE)
    assert (rev.owner, rev.holder, rev.normal) == ("platform", None, "credit")
    assert platform(Purpose.REVENUE).id == rev.id


def test_receivable_ceiling_is_the_vendors_credit_limit():
    vendor = postpaid(credit_limit=7_500)
    acc = receivable(vendor)
    assert (acc.type, acc.normal, acc.ceiling, acc.floor) == ("asset", "debit", 7_500, None)


def test_account_purpose_must_match_owner():
    with pytest.raises(DomainError) as exc:
        ledger_services.account_get_or_create(purpose=Purpose.WALLET, currency="USD")
    assert exc.value.code == "validation_error"
    with pytest.raises(DomainError):
        ledger_services.account_get_or_create(purpose="savings", currency="USD")


def test_post_moves_balances_in_each_accounts_normal_direction():
    clearing, revenue = platform(Purpose.STRIPE_CLEARING), platform(Purpose.REVENUE)
    txn = ledger_services.ledger_post(
        reference="t1", entries=[(clearing, 450), (revenue, -450)], kind="b2c_payment"
    )
    assert account_balance(account=clearing) == usd(450)  # asset up
    assert account_balance(account=revenue) == usd(450)  # income up
    # Platform accounts keep no running balance: their entries carry none either.
    legs = {e.account_id: (e.amount, e.balance_after) for e in txn.entries.all()}
    assert legs == {clearing.id: (450, None), revenue.id: (-450, None)}
    assert Account.objects.filter(holder__isnull=True).exclude(balance=None).count() == 0


def test_posting_the_same_reference_again_returns_the_first_and_posts_nothing():
    clearing, revenue = platform(Purpose.STRIPE_CLEARING), platform(Purpose.REVENUE)
    first = ledger_services.ledger_post(
        reference="dup", entries=[(clearing, 100), (revenue, -100)], kind="x"
    )
    again = ledger_services.ledger_post(
        reference="dup", entries=[(clearing, 999), (revenue, -999)], kind="x"
    )
    assert again.id == first.id
    assert Entry.objects.count() == 2
    assert account_balance(account=clearing) == usd(100)


def test_unbalanced_or_empty_postings_are_refused_and_nothing_is_written():
    clearing, revenue = platform(Purpose.STRIPE_CLEARING), platform(Purpose.REVENUE)
    for entries in ([(clearing, 100), (revenue, -99)], [(clearing, 100), (clearing, -100)], []):
        with pytest.raises(DomainError) as exc:
            ledger_services.ledger_post(reference="bad", entries=entries, kind="x")
        assert exc.value.code == "validation_error"
    assert not Transaction.objects.exists()


def test_currencies_balance_separately():
    usd_clear = platform(Purpose.STRIPE_CLEARING)
    eur_rev = ledger_services.account_get_or_create(purpose=Purpose.REVENUE, currency="EUR")
    with pytest.raises(DomainError):
        ledger_services.ledger_post(
            reference="fx", entries=[(usd_clear, 100), (eur_rev, -100)], kind="x"
        )


def test_float_amounts_are_refused():
    clearing, revenue = platform(Purpose.STRIPE_CLEARING), platform(Purpose.REVENUE)
    with pytest.raises(DomainError):
        ledger_services.ledger_post(
            reference="f", entries=[(clearing, 1.5), (revenue, -1.5)], kind="x"
        )  # type: ignore[list-item]


def test_a_wallet_cannot_be_overdrawn_through_a_posting():
    vendor = prepaid()
    fund(vendor, 500)
    with pytest.raises(DomainError) as exc:
        ledger_services.ledger_post(
            reference="over",
            entries=[(wallet(vendor), 501), (platform(Purpose.REVENUE), -501)],
            kind="x",
        )
    assert exc.value.code == "insufficient_funds"
    assert account_balance(account=wallet(vendor)) == usd(500)


def test_entries_are_immutable_through_the_orm():
    vendor = prepaid()
    fund(vendor, 500)
    entry = Entry.objects.first()
    assert entry is not None
    entry.amount = 1
    with pytest.raises(ImmutableRowError):
        entry.save()
    with pytest.raises(ImmutableRowError):
        entry.delete()


def test_hold_capture_and_void_happen_exactly_once():
    vendor = prepaid()
    fund(vendor, 1_000)
    w = wallet(vendor)
    hold = ledger_services.hold_create(account=w, amount=usd(300), reference="h1")
    assert ledger_services.hold_create(account=w, amount=usd(300), reference="h1").id == hold.id
    w.refresh_from_db()
    assert (w.balance, w.held) == (1_000, 300)

    txn = ledger_services.hold_capture(hold=hold, reference="h1:capture")
    assert ledger_services.hold_capture(hold=hold, reference="h1:capture").id == txn.id
    with pytest.raises(DomainError) as exc:
        ledger_services.hold_capture(hold=hold, reference="h1:capture-again")
    assert exc.value.code == "invalid_state"
    with pytest.raises(DomainError):
        ledger_services.hold_void(hold=hold)
    w.refresh_from_db()
    assert (w.balance, w.held) == (700, 0)
    assert hold.status == Hold.Status.CAPTURED and hold.resolved_at is not None

    other = ledger_services.hold_create(account=w, amount=usd(200), reference="h2")
    ledger_services.hold_void(hold=other)
    assert ledger_services.hold_void(hold=other).status == Hold.Status.VOIDED
    with pytest.raises(DomainError):
        ledger_services.hold_capture(hold=other, reference="h2:capture")
    w.refresh_from_db()
    assert (w.balance, w.held) == (700, 0)
    assert ledger_integrity_check() == []


def test_partial_capture_releases_the_rest():
    vendor = prepaid()
    fund(vendor, 1_000)
    hold = ledger_services.hold_create(account=wallet(vendor), amount=usd(400), reference="p")
    ledger_services.hold_capture(hold=hold, amount=usd(150), reference="p:capture")
    w = wallet(vendor)
    w.refresh_from_db()
    assert (w.balance, w.held) == (850, 0)
    with pytest.raises(DomainError):
        ledger_services.hold_capture(
            hold=ledger_services.hold_create(account=w, amount=usd(10), reference="q"),
            amount=usd(11),
            reference="q:capture",
        )


def test_holds_count_against_available_funds():
    vendor = prepaid()
    fund(vendor, 1_000)
    w = wallet(vendor)
    ledger_services.hold_create(account=w, amount=usd(600), reference="a")
    with pytest.raises(DomainError) as exc:
        ledger_services.hold_create(account=w, amount=usd(401), reference="b")
    assert exc.value.code == "insufficient_funds"
    ledger_services.hold_create(account=w, amount=usd(400), reference="c")
    with pytest.raises(DomainError):  # nor can a posting spend reserved money
        ledger_services.ledger_post(
            reference="spend", entries=[(w, 1), (platform(Purpose.REVENUE), -1)], kind="x"
        )


def test_hold_amount_must_be_positive_and_in_the_accounts_currency():
    vendor = prepaid()
    fund(vendor, 1_000)
    for amount in (usd(0), usd(-5), Money(10, "EUR")):
        with pytest.raises(DomainError) as exc:
            ledger_services.hold_create(account=wallet(vendor), amount=amount, reference="z")
        assert exc.value.code == "validation_error"


def test_cached_balances_equal_their_entries_after_mixed_activity():
    vendor = prepaid()
    fund(vendor, 2_000, "t1")
    fund(vendor, 500, "t2")
    services.vendor_order_reserve(vendor=vendor, order_id=1, amount=usd(700))
    services.vendor_order_capture(order_id=1, cost=usd(400))
    services.vendor_order_refund(order_id=1, amount=usd(200), reference="order:1:refund:1")
    for account in Account.objects.filter(holder=vendor.pk):
        assert account.balance == account_entries_sum(account=account)
    # Platform accounts cache nothing; their balance is their entries'.
    assert set(Account.objects.filter(holder__isnull=True).values_list("balance", flat=True)) == {
        None
    }
    revenue = Account.objects.get(purpose=Purpose.REVENUE)
    assert account_balance(account=revenue) == usd(700)
    assert ledger_integrity_check() == []
