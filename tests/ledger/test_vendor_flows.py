"""Vendor money flows, balances and statements."""

from __future__ import annotations

import pytest
from django.db import transaction

from billing import services
from billing.selectors import vendor_balance, vendor_statement
from ledger import services as ledger_services
from ledger.integrity import ledger_integrity_check
from ledger.models import Hold, Purpose, Transaction
from ledger.selectors import account_balance, trial_balance
from tests.factories import UserFactory
from tests.ledger.factories import fund, platform, postpaid, prepaid, receivable, usd
from ttelgo.errors import DomainError
from ttelgo.money import Money

pytestmark = pytest.mark.django_db


def test_wallet_topup_credits_the_wallet_once_per_reference():
    vendor = prepaid()
    t1 = services.vendor_wallet_topup_credit(vendor=vendor, amount=usd(5_000), reference="pi_1")
    t2 = services.vendor_wallet_topup_credit(vendor=vendor, amount=usd(5_000), reference="pi_1")
    assert t1.id == t2.id and t1.kind == "wallet_topup"
    assert vendor_balance(vendor=vendor).balance == usd(5_000)
    assert account_balance(account=platform(Purpose.STRIPE_CLEARING)) == usd(5_000)


def test_topup_in_another_currency_than_the_vendors_is_refused():
    vendor = prepaid()
    with pytest.raises(DomainError) as exc:
        services.vendor_wallet_topup_credit(vendor=vendor, amount=Money(10, "EUR"), reference="x")
    assert exc.value.code == "validation_error"


def test_prepaid_order_reserve_capture_refund():
    vendor = prepaid()
    fund(vendor, 1_000)
    with transaction.atomic():  # the orders code reserves inside its own transaction
        hold = services.vendor_order_reserve(vendor=vendor, order_id=42, amount=usd(600))
    bal = vendor_balance(vendor=vendor)
    assert (bal.balance, bal.reserved, bal.available) == (usd(1_000), usd(600), usd(400))
    assert (bal.billing_mode, bal.currency, bal.credit_limit) == ("prepaid", "USD", usd(0))

    with pytest.raises(DomainError) as exc:
        services.vendor_order_reserve(vendor=vendor, order_id=43, amount=usd(401))
    assert exc.value.code == "insufficient_funds"
    # The refusal says how far off the caller is, each figure as money.
    assert exc.value.details == {
        "available": usd(400).to_api(),
        "required": usd(401).to_api(),
        "shortfall": usd(1).to_api(),
    }

    charge = services.vendor_order_capture(
        order_id=42, cost=usd(350), metadata={"bundle_code": "esim_1GB_7D_FR"}
    )
    assert services.vendor_order_capture(order_id=42, cost=usd(350)).id == charge.id
    assert charge.metadata["bundle_code"] == "esim_1GB_7D_FR" and charge.order_id == 42
    hold.refresh_from_db()
    assert hold.status == Hold.Status.CAPTURED
    assert vendor_balance(vendor=vendor).available == usd(400)
    assert account_balance(account=platform(Purpose.REVENUE)) == usd(600)
    assert account_balance(account=platform(Purpose.COGS)) == usd(350)
    assert account_balance(account=platform(Purpose.PROVIDER_PAYABLE)) == usd(350)

    services.vendor_order_refund(order_id=42, amount=usd(100), reference="r1")
    services.vendor_order_refund(order_id=42, amount=usd(100), reference="r1")  # replay
    assert vendor_balance(vendor=vendor).balance == usd(500)
    with pytest.raises(DomainError) as exc:
        services.vendor_order_refund(order_id=42, amount=usd(501), reference="r2")
    assert exc.value.code == "validation_error"
    services.vendor_order_refund(order_id=42, amount=usd(500), reference="r3")
    assert vendor_balance(vendor=vendor).balance == usd(1_000)
    assert ledger_integrity_check() == []


def test_failed_provisioning_voids_the_reserve_and_frees_the_funds():
    vendor = prepaid()
    fund(vendor, 1_000)
    services.vendor_order_reserve(vendor=vendor, order_id=7, amount=usd(1_000))
    voided = services.vendor_order_void(order_id=7)
    assert voided is not None and voided.status == Hold.Status.VOIDED
    assert services.vendor_order_void(order_id=7).status == Hold.Status.VOIDED  # type: ignore[union-attr]
    assert services.vendor_order_void(order_id=999) is None
    assert vendor_balance(vendor=vendor).available == usd(1_000)
    with pytest.raises(DomainError) as exc:
        services.vendor_order_capture(order_id=7)
    assert exc.value.code == "invalid_state"


def test_a_refused_reserve_leaves_the_callers_transaction_usable_and_nothing_held():
    vendor = prepaid()
    fund(vendor, 100)
    with transaction.atomic():
        with pytest.raises(DomainError):
            services.vendor_order_reserve(vendor=vendor, order_id=1, amount=usd(101))
        assert Hold.objects.count() == 0
    assert vendor_balance(vendor=vendor).reserved == usd(0)


def test_postpaid_orders_draw_on_the_credit_line():
    vendor = postpaid(credit_limit=1_000)
    services.vendor_order_reserve(vendor=vendor, order_id=1, amount=usd(700))
    with pytest.raises(DomainError) as exc:
        services.vendor_order_reserve(vendor=vendor, order_id=2, amount=usd(301))
    assert exc.value.code == "credit_limit_exceeded"
    assert exc.value.details == {
        "available": usd(300).to_api(),
        "required": usd(301).to_api(),
        "shortfall": usd(1).to_api(),
    }
    services.vendor_order_capture(order_id=1, metadata={"bundle_code": "B"})
    bal = vendor_balance(vendor=vendor)
    # postpaid balance is minus what they owe
    assert (bal.balance, bal.reserved, bal.credit_limit, bal.available) == (
        usd(-700),
        usd(0),
        usd(1_000),
        usd(300),
    )
    services.vendor_order_refund(order_id=1, amount=usd(200), reference="r")
    assert vendor_balance(vendor=vendor).balance == usd(-500)
    assert account_balance(account=receivable(vendor)) == usd(500)


def test_credit_limit_change_moves_the_receivable_ceiling_but_never_below_use():
    vendor = postpaid(credit_limit=1_000)
    services.vendor_order_reserve(vendor=vendor, order_id=1, amount=usd(800))
    services.vendor_credit_limit_set(vendor=vendor, limit=usd(2_000))
    acc = receivable(vendor)
    acc.refresh_from_db()
    assert acc.ceiling == 2_000
    services.vendor_order_reserve(vendor=vendor, order_id=2, amount=usd(1_200))
    with pytest.raises(DomainError) as exc:
        services.vendor_credit_limit_set(vendor=vendor, limit=usd(1_999))
    assert exc.value.code == "invalid_state"
    acc.refresh_from_db()
    assert acc.ceiling == 2_000


def test_operator_adjustment_records_reason_and_operator_and_cannot_overdraw():
    operator = UserFactory(is_staff=True)
    vendor = prepaid()
    fund(vendor, 300)
    credit = services.vendor_adjustment(
        vendor=vendor, amount=usd(250), reason="goodwill for outage", actor=operator
    )
    assert (credit.actor_id, credit.metadata["reason"], credit.kind) == (
        operator.id,
        "goodwill for outage",
        "adjustment",
    )
    assert vendor_balance(vendor=vendor).balance == usd(550)
    services.vendor_adjustment(vendor=vendor, amount=usd(-50), reason="fee", actor=operator)
    assert vendor_balance(vendor=vendor).balance == usd(500)
    with pytest.raises(DomainError) as exc:
        services.vendor_adjustment(vendor=vendor, amount=usd(-501), reason="x", actor=operator)
    assert exc.value.code == "insufficient_funds"
    with pytest.raises(DomainError):
        services.vendor_adjustment(vendor=vendor, amount=usd(5), reason="  ", actor=operator)


def test_statement_lines_carry_a_running_balance_from_the_vendors_view():
    vendor = prepaid()
    fund(vendor, 1_000, "t1")
    services.vendor_order_reserve(vendor=vendor, order_id=5, amount=usd(300))
    services.vendor_order_capture(order_id=5)
    services.vendor_order_refund(order_id=5, amount=usd(100), reference="r")
    lines = list(vendor_statement(vendor=vendor))
    assert [(x.type, x.statement_amount, x.statement_balance_after) for x in lines] == [
        ("order_refund", 100, 800),
        ("order_charge", -300, 700),
        ("wallet_topup", 1_000, 1_000),
    ]
    assert lines[0].order_id == 5 and lines[0].currency == "USD"


def test_postpaid_statement_shows_debt_as_negative():
    vendor = postpaid(credit_limit=5_000)
    services.vendor_order_reserve(vendor=vendor, order_id=1, amount=usd(400))
    services.vendor_order_capture(order_id=1)
    (line,) = vendor_statement(vendor=vendor)
    assert (line.statement_amount, line.statement_balance_after) == (-400, -400)


def test_b2c_payments_refunds_and_costs_post_to_platform_accounts():
    ledger_services.b2c_payment_captured(amount=usd(900), reference="pi_a", order_id=3)
    ledger_services.b2c_payment_captured(amount=usd(900), reference="pi_a", order_id=3)
    ledger_services.b2c_refund(amount=usd(400), reference="re_a", order_id=3)
    ledger_services.order_cost_record(cost=usd(300), reference="order:3:cost", order_id=3)
    assert account_balance(account=platform(Purpose.STRIPE_CLEARING)) == usd(500)
    assert account_balance(account=platform(Purpose.REVENUE)) == usd(900)
    assert account_balance(account=platform(Purpose.REFUNDS)) == usd(400)
    assert Transaction.objects.filter(order_id=3).count() == 3
    tb = trial_balance()
    assert tb.balanced and tb.totals["USD"] == (1_200, 1_200)
