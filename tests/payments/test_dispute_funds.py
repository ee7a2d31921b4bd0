"""Disputed money in the ledger: `charge.dispute.funds_withdrawn` takes it back (a card
order's like a refund, a wallet top-up's out of the wallet, what it no longer holds owed on
adjustments) and `charge.dispute.funds_reinstated` puts back exactly that, once each."""

from __future__ import annotations

import pytest
from django.core import mail

from billing import services as ledger
from billing.selectors import vendor_balance
from ledger.models import Account, Purpose, Transaction
from ledger.selectors import account_balance
from payments.models import Payment
from payments.services import payment_create_for_order
from sandbox.stripe import sandbox_intent_succeed
from tests.orders.helpers import assert_ledger_sound
from tests.payments import stripe_shapes as shapes
from tests.payments.factories import paid_wallet_topup, signed_post, stripe_event
from ttelgo.money import Money
from webhooks.models import InboundEvent

pytestmark = pytest.mark.django_db


def _platform(purpose: str) -> int:
    row = Account.objects.filter(purpose=purpose, currency="USD", holder__isnull=True).first()
    return account_balance(account=row).amount if row else 0


def _dispute_event(client, type: str, payment: Payment, amount: int, n: int) -> None:
    dispute = {
        **shapes.dispute(amount=amount),
        "payment_intent": payment.payment_intent_id,
        "status": "lost" if type.endswith("withdrawn") else "won",
    }
    signed_post(client, stripe_event(type, dispute, event_id=f"evt_1QxDisputeFunds{n:04d}"))


def test_a_card_payment_dispute_withdraws_the_money_and_a_won_dispute_returns_it(
    api_client, order, provision_delay, django_capture_on_commit_callbacks
):
    payment = payment_create_for_order(order=order)
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_intent_succeed(payment_intent_id=payment.payment_intent_id)
    payment.refresh_from_db()
    clearing, refunds = _platform(Purpose.STRIPE_CLEARING), _platform(Purpose.REFUNDS)

    with django_capture_on_commit_callbacks(execute=True):
        _dispute_event(api_client, "charge.dispute.funds_withdrawn", payment, payment.amount, 1)
        _dispute_event(api_client, "charge.dispute.funds_withdrawn", payment, payment.amount, 2)
    assert _platform(Purpose.STRIPE_CLEARING) == clearing - payment.amount  # once
    assert _platform(Purpose.REFUNDS) == refunds + payment.amount
    withdrawal = Transaction.objects.get(kind=Transaction.Kind.DISPUTE_WITHDRAWAL)
    assert withdrawal.order_id == order.pk

    with django_capture_on_commit_callbacks(execute=True):
        _dispute_event(api_client, "charge.dispute.funds_reinstated", payment, payment.amount, 3)
        _dispute_event(api_client, "charge.dispute.funds_reinstated", payment, payment.amount, 4)
    assert (_platform(Purpose.STRIPE_CLEARING), _platform(Purpose.REFUNDS)) == (clearing, refunds)
    assert Transaction.objects.filter(kind=Transaction.Kind.DISPUTE_REINSTATEMENT).count() == 1
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert_ledger_sound()


def test_a_disputed_wallet_top_up_leaves_the_wallet_until_the_dispute_is_won(
    api_client, django_capture_on_commit_callbacks
):
    payment = paid_wallet_topup(django_capture_on_commit_callbacks, cents=2000)
    vendor = payment.vendor
    ledger.vendor_order_reserve(vendor=vendor, order_id=77, amount=Money(1200, "USD"))
    adjustments = _platform(Purpose.ADJUSTMENTS)

    with django_capture_on_commit_callbacks(execute=True):
        _dispute_event(api_client, "charge.dispute.funds_withdrawn", payment, 2000, 1)
    balance = vendor_balance(vendor=vendor)
    # 8.00 was free to take; the 12.00 reserved for an open order is owed on adjustments.
    assert (balance.balance.amount, balance.available.amount) == (1200, 0)
    assert _platform(Purpose.ADJUSTMENTS) == adjustments + 1200
    assert "12.00 USD to collect" in mail.outbox[-1].subject

    with django_capture_on_commit_callbacks(execute=True):
        _dispute_event(api_client, "charge.dispute.funds_reinstated", payment, 2000, 2)
    balance = vendor_balance(vendor=vendor)
    assert (balance.balance.amount, balance.available.amount) == (2000, 800)
    assert _platform(Purpose.ADJUSTMENTS) == adjustments
    assert_ledger_sound()


def test_funds_reinstated_without_a_recorded_withdrawal_moves_nothing(
    api_client, django_capture_on_commit_callbacks
):
    payment = paid_wallet_topup(django_capture_on_commit_callbacks, cents=2000)
    with django_capture_on_commit_callbacks(execute=True):
        _dispute_event(api_client, "charge.dispute.funds_reinstated", payment, 2000, 1)
    assert (
        InboundEvent.objects.get(event_type="charge.dispute.funds_reinstated").status == "processed"
    )
    assert not Transaction.objects.filter(kind=Transaction.Kind.DISPUTE_REINSTATEMENT).exists()
    assert vendor_balance(vendor=payment.vendor).available.amount == 2000
