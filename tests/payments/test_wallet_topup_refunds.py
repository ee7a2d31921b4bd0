"""A wallet top-up refunded to the vendor's card takes the money back out of the wallet;
what the wallet no longer holds is booked as owed on `adjustments` and operators are told
to collect it. Recorded once, however often Stripe reports the refund."""

from __future__ import annotations

import pytest
from django.core import mail

from billing import services as ledger
from billing.selectors import vendor_balance
from ledger.models import Account, Purpose, Transaction
from ledger.selectors import account_balance
from payments.services import payment_refund, payment_refunds_sync
from tests.orders.helpers import assert_ledger_sound
from tests.payments.factories import paid_wallet_topup
from ttelgo.money import Money

pytestmark = pytest.mark.django_db


@pytest.fixture
def topup(django_capture_on_commit_callbacks):
    payment = paid_wallet_topup(django_capture_on_commit_callbacks, cents=2000)
    assert vendor_balance(vendor=payment.vendor).available.amount == 2000
    return payment


def _platform_balance(purpose: str) -> int:
    account = Account.objects.get(purpose=purpose, currency="USD", holder__isnull=True)
    return account_balance(account=account).amount


def test_a_refunded_top_up_leaves_the_wallet(topup, django_capture_on_commit_callbacks):
    clearing_before = _platform_balance(Purpose.STRIPE_CLEARING)
    with django_capture_on_commit_callbacks(execute=True):
        payment_refund(payment=topup, amount=Money(500, "USD"), reason="unused balance")
    assert vendor_balance(vendor=topup.vendor).available.amount == 1500
    assert _platform_balance(Purpose.STRIPE_CLEARING) == clearing_before - 500
    txn = Transaction.objects.get(kind=Transaction.Kind.WALLET_TOPUP_REFUND)
    assert txn.metadata["shortfall"] == 0
    assert "taken from vendor" in mail.outbox[-1].body and "collect" not in mail.outbox[-1].body
    assert_ledger_sound()


def test_a_refund_of_money_already_spent_is_booked_as_owed(
    topup, django_capture_on_commit_callbacks
):
    vendor = topup.vendor
    ledger.vendor_order_reserve(vendor=vendor, order_id=991, amount=Money(1200, "USD"))
    adjustments_before = (
        Account.objects.filter(purpose=Purpose.ADJUSTMENTS, holder__isnull=True)
        .values_list("balance", flat=True)
        .first()
        or 0
    )
    with django_capture_on_commit_callbacks(execute=True):
        payment_refund(payment=topup, amount=None, reason="chargeback avoided")  # all 20.00
    balance = vendor_balance(vendor=vendor)
    # 8.00 was free to take; the 12.00 reserved for the open order stays reserved.
    assert (balance.balance.amount, balance.reserved.amount, balance.available.amount) == (
        1200,
        1200,
        0,
    )
    assert _platform_balance(Purpose.ADJUSTMENTS) == adjustments_before + 1200
    assert "collect it from the vendor" in mail.outbox[-1].body
    assert "12.00" in mail.outbox[-1].body
    assert_ledger_sound()


def test_stripe_reporting_the_refund_again_takes_nothing_more(
    topup, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        payment_refund(payment=topup, amount=Money(700, "USD"), reason="asked")
        payment_refunds_sync(payment_intent_id=topup.payment_intent_id)  # charge.refunded
        payment_refunds_sync(payment_intent_id=topup.payment_intent_id)  # delivered twice
    assert vendor_balance(vendor=topup.vendor).available.amount == 1300
    assert Transaction.objects.filter(kind=Transaction.Kind.WALLET_TOPUP_REFUND).count() == 1
    assert_ledger_sound()


def test_the_ledger_reversal_itself_is_idempotent_on_its_reference(topup):
    first = ledger.vendor_wallet_topup_refund(
        vendor=topup.vendor, amount=Money(300, "USD"), reference="refund:re_1"
    )
    again = ledger.vendor_wallet_topup_refund(
        vendor=topup.vendor, amount=Money(300, "USD"), reference="refund:re_1"
    )
    assert first[0].pk == again[0].pk and again[1] == Money(0, "USD")
    assert vendor_balance(vendor=topup.vendor).available.amount == 1700
