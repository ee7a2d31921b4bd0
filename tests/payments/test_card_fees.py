"""Card fees and payouts against Stripe-shaped balance transactions (Stripe played by
`responses`): after charges, a refund and a dispute, stripe_clearing equals the payout."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import responses
from django.utils import timezone

from ledger.models import Purpose, Transaction
from ledger.selectors import account_balance
from ledger.services import platform_account
from payments import fees
from payments.models import Payment
from payments.services import (
    payment_create_for_order,
    payment_dispute_funds_moved,
    payment_intent_sync,
    payment_refund,
)
from reconciliation.services import check_payouts
from tests.payments import stripe_shapes as shapes
from tests.payments.factories import OrderFactory
from ttelgo.money import Money

BASE = "https://stripe.test"
pytestmark = pytest.mark.django_db
# Stripe's US card price: 2.9 % + 30 ¢; a dispute costs 15.00.
DISPUTE_FEE = 1500


def card_fee(amount: int) -> int:
    return Money(amount, "USD").scale(290, 10_000).amount + 30


@pytest.fixture(autouse=True)
def _stripe_backend(settings):
    settings.PAYMENTS_BACKEND = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_suite_only"
    settings.STRIPE_API_BASE = BASE


class FakeBalance:
    """Stripe's balance: payment intents, balance transactions (listed by source, by
    payout or by creation) and payouts, answered from memory."""

    def __init__(self, mocked: responses.RequestsMock) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.bts: list[dict[str, Any]] = []
        self.payout_of: dict[str, str] = {}  # bt id -> payout id
        self.payouts: list[dict[str, Any]] = []
        self.mocked = mocked
        mocked.add_callback(
            responses.GET, f"{BASE}/v1/balance_transactions", callback=self._list_bts
        )
        mocked.add_callback(responses.GET, f"{BASE}/v1/payouts", callback=self._list_payouts)

    def _list_bts(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlparse(request.url).query)
        assert query["expand[0]"] == ["data.source"]
        rows = self.bts
        if "source" in query:
            rows = [b for b in rows if b["source"]["id"] == query["source"][0]]
        if "payout" in query:
            rows = [b for b in rows if self.payout_of.get(b["id"]) == query["payout"][0]]
        if "created[gte]" in query:
            rows = [b for b in rows if b["created"] >= int(query["created[gte]"][0])]
        body = shapes.list_of(list(reversed(rows)), "/v1/balance_transactions")
        return 200, {}, json.dumps(body)

    def _list_payouts(self, request: Any) -> tuple[int, dict[str, str], str]:
        return 200, {}, json.dumps(shapes.list_of(self.payouts, "/v1/payouts"))

    def charge(self, order: Any, *, pi: str, charge: str) -> Payment:
        self.mocked.post(f"{BASE}/v1/payment_intents", json=shapes.payment_intent(id=pi))
        payment = payment_create_for_order(order=order)
        intent = shapes.payment_intent(id=pi, status="succeeded", amount=order.total)
        intent["latest_charge"] = charge
        self.mocked.get(f"{BASE}/v1/payment_intents/{pi}", json=intent)
        self.bts.append(
            shapes.balance_transaction(
                id=f"txn_{charge}",
                type="charge",
                amount=order.total,
                fee=card_fee(order.total),
                source={"id": charge, "object": "charge", "payment_intent": pi},
                created=int(timezone.now().timestamp()),
            )
        )
        return payment

    def refund(self, *, refund: str, pi: str, amount: int) -> None:
        self.mocked.post(
            f"{BASE}/v1/refunds", json=shapes.refund(id=refund, amount=amount, payment_intent=pi)
        )
        self.bts.append(
            shapes.balance_transaction(
                id=f"txn_{refund}",
                type="refund",
                amount=-amount,
                fee=0,
                source={"id": refund, "object": "refund", "payment_intent": pi},
                created=int(timezone.now().timestamp()),
            )
        )

    def dispute(self, *, dispute: str, pi: str, amount: int) -> None:
        self.bts.append(
            shapes.balance_transaction(
                id=f"txn_{dispute}",
                type="adjustment",
                reporting_category="dispute",
                amount=-amount,
                fee=DISPUTE_FEE,
                source={"id": dispute, "object": "dispute", "payment_intent": pi},
                created=int(timezone.now().timestamp()),
            )
        )

    def pay_out(self, payout_id: str) -> int:
        """Stripe pays out everything available: the sum of the nets."""
        amount = sum(b["net"] for b in self.bts if b["id"] not in self.payout_of)
        for b in self.bts:
            self.payout_of.setdefault(b["id"], payout_id)
        self.payouts.append(
            shapes.payout(id=payout_id, amount=amount, created=int(timezone.now().timestamp()))
        )
        return amount


@pytest.fixture
def stripe_balance():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield FakeBalance(mocked)


@pytest.fixture(autouse=True)
def _no_provisioning(provision_delay):
    """Provisioning is the orders app's business; only the money is looked at here."""


def clearing() -> int:
    return account_balance(account=platform_account(Purpose.STRIPE_CLEARING, "USD")).amount


def fees_booked() -> int:
    return account_balance(account=platform_account(Purpose.CARD_FEES, "USD")).amount


def _sell_refund_dispute(balance: FakeBalance, capture: Any) -> list[Payment]:
    """Three card payments (15.00, 25.00, 40.00), 5.00 refunded of the first, the third
    disputed and its money withdrawn."""
    payments = []
    for n, total in enumerate((1500, 2500, 4000), start=1):
        order = OrderFactory(total=total)
        payment = balance.charge(order, pi=f"pi_fee{n}", charge=f"ch_fee{n}")
        with capture(execute=True):
            payment_intent_sync(payment_intent_id=payment.payment_intent_id)
        payments.append(payment)
    balance.refund(refund="re_fee1", pi="pi_fee1", amount=500)
    with capture(execute=True):
        payment_refund(
            payment=payments[0], amount=Money(500, "USD"), reason="requested_by_customer"
        )
    balance.dispute(dispute="dp_fee3", pi="pi_fee3", amount=4000)
    with capture(execute=True):
        payment_dispute_funds_moved(
            payment_intent_id="pi_fee3",
            dispute_id="dp_fee3",
            amount=Money(4000, "USD"),
            withdrawn=True,
        )
    return payments


def test_after_charges_a_refund_and_a_dispute_clearing_equals_the_payout(
    stripe_balance, django_capture_on_commit_callbacks
):
    _sell_refund_dispute(stripe_balance, django_capture_on_commit_callbacks)

    expected_fees = card_fee(1500) + card_fee(2500) + card_fee(4000) + DISPUTE_FEE
    assert fees_booked() == expected_fees
    # Each fee once, under its balance transaction's id.
    refs = set(
        Transaction.objects.filter(kind=Transaction.Kind.CARD_FEE).values_list(
            "reference", flat=True
        )
    )
    assert refs == {"card_fee:txn_ch_fee1", "card_fee:txn_ch_fee2", "card_fee:txn_ch_fee3"} | {
        "card_fee:txn_dp_fee3"
    }
    payout = stripe_balance.pay_out("po_fee1")
    assert payout == 1500 + 2500 + 4000 - 500 - 4000 - expected_fees
    assert clearing() == payout

    # The payout, once booked, empties clearing into the bank; reconciliation agrees.
    assert fees.payouts_record() == 1
    assert fees.payouts_record() == 1  # booked once, however often the sweep sees it
    assert clearing() == 0
    assert account_balance(account=platform_account(Purpose.BANK, "USD")).amount == payout
    assert check_payouts(since=timezone.now() - timedelta(days=1)) == []


def test_the_sweep_books_fees_whose_task_was_lost_once_each(
    stripe_balance, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("payments.tasks.card_fees_book.delay", lambda *a, **k: None)
    _sell_refund_dispute(stripe_balance, django_capture_on_commit_callbacks)
    assert fees_booked() == 0  # every event task lost

    fees.card_fees_sweep()
    fees.card_fees_sweep()

    assert fees_booked() == card_fee(1500) + card_fee(2500) + card_fee(4000) + DISPUTE_FEE
    assert clearing() == stripe_balance.pay_out("po_fee2")


def test_reconciliation_reports_a_payout_that_clearing_does_not_match(
    stripe_balance, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("payments.tasks.card_fees_book.delay", lambda *a, **k: None)
    _sell_refund_dispute(stripe_balance, django_capture_on_commit_callbacks)
    stripe_balance.pay_out("po_fee3")

    found = check_payouts(since=timezone.now() - timedelta(days=1))

    codes = sorted((f["code"], f["object_id"]) for f in found)
    assert codes == [
        ("clearing_mismatch", "txn_ch_fee1"),
        ("clearing_mismatch", "txn_ch_fee2"),
        ("clearing_mismatch", "txn_ch_fee3"),
        ("clearing_mismatch", "txn_dp_fee3"),
        ("payout_mismatch", "po_fee3"),
        ("payout_not_booked", "po_fee3"),
    ]
    mismatch = next(f for f in found if f["object_id"] == "txn_dp_fee3")
    assert mismatch["details"]["booked"] == -4000  # the withdrawal, without its fee
    assert mismatch["details"]["net"] == -4000 - DISPUTE_FEE


def test_a_fee_given_back_is_booked_as_its_reverse(stripe_balance):
    order = OrderFactory(total=1500)
    payment = stripe_balance.charge(order, pi="pi_back", charge="ch_back")
    bt = fees.GatewayBalanceTransaction(
        id="txn_dp_back_won",
        type="adjustment",
        source="dp_back",
        amount=1500,
        fee=-DISPUTE_FEE,
        net=1500 + DISPUTE_FEE,
        currency="USD",
        payment_intent_id="pi_back",
    )
    assert fees.card_fee_book(bt=bt, payment=payment)
    assert fees_booked() == -DISPUTE_FEE
    assert clearing() == DISPUTE_FEE
