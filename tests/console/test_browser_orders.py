"""Browser tests of the order screens: the fraud review queue and refunds."""

from __future__ import annotations

import pytest

from orders.fraud.models import FraudRule
from orders.models import Order
from payments.models import Payment
from tests.console.factories import OPERATOR_PASSWORD, b2c_order, operator, pay
from tests.console.test_browser import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_approves_a_fraud_held_order_and_it_completes(console, bundles):
    FraudRule.objects.create(name="Big orders", kind="quantity", limit=1, score=100)
    order = pay(b2c_order(quantity=2))
    order.refresh_from_db()
    assert order.status == Order.Status.IN_REVIEW
    user = operator("admin")
    console.login(user.email, OPERATOR_PASSWORD)
    console.click_link("Open reviews")
    console.wait_text("2 eSIMs in one order (limit 1)")
    console.click(f"a[href$='/orderreview/{order.pk}/change/']")
    console.open_form(f"a[href$='/orderreview/{order.pk}/approve/']")
    console.fill("note", "regular customer, called them")
    console.submit("#operator-submit")
    console.wait_text(f"Order {order.pk} approved")
    wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.COMPLETED)
    assert order.esims.count() == 2  # type: ignore[attr-defined]


def test_operator_refunds_an_order(console, bundles):
    order = pay(b2c_order(quantity=2))
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    user = operator("finance")
    console.login(user.email, OPERATOR_PASSWORD)
    console.open(f"/admin/orders/order/{order.pk}/change/")
    console.open_form("a[href$='/refund/']")
    console.fill("amount", "4.50")
    console.fill("reason", "one eSIM never installed")
    console.submit("#operator-submit")
    console.wait_text("Refund 4.50 USD of order")  # asked first
    console.submit("#operator-submit")
    console.wait_text("Refunded 4.50 USD")
    console.wait_text("The customer keeps 2 eSIM(s)")
    payment = Payment.objects.get(order=order)
    assert payment.refunded_amount == 450


def test_an_operator_reads_and_enters_money_in_major_units(console, bundles):
    from tests.factories import VendorFactory
    from vendors.models import Vendor

    order = pay(b2c_order(quantity=2))
    vendor = VendorFactory(low_balance_threshold=2_500)
    user = operator("admin")
    console.login(user.email, OPERATOR_PASSWORD)
    console.open(f"/admin/orders/order/{order.pk}/change/")
    console.wait_css("#content")
    html = console.driver.page_source
    assert "4.50 USD" in html and ">450<" not in html.replace(" ", "")  # the items' unit price
    assert "9.00 USD" in html  # the payment
    console.open(f"/admin/vendors/vendor/{vendor.pk}/change/")
    field = console.wait_css("input[name='low_balance_threshold']")
    assert field.get_attribute("value") == "25.00"
    assert "border" in (field.get_attribute("class") or "")  # styled like every input
    field.clear()
    field.send_keys("40.00")
    console.click("[name='_save']")
    wait_for(lambda: Vendor.objects.get(pk=vendor.pk).low_balance_threshold == 4_000)
