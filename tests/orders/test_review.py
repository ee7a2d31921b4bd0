"""Orders held for review: approval provisions them, rejection gives the money back,
exactly once."""

from __future__ import annotations

from typing import cast
from unittest import mock

import pytest

from ledger.models import Hold
from orders.models import Order
from orders.services import order_create_b2b, order_review_approve, order_review_reject
from orders.state import order_transition
from payments.models import Payment, Refund
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, fund
from tests.orders.helpers import assert_ledger_sound, buy_b2c, hold_status, order_status, pay
from ttelgo.errors import DomainError
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def held_b2c_order(customer, bundles, django_capture_on_commit_callbacks) -> int:
    order = buy_b2c(customer, django_capture_on_commit_callbacks)
    with mock.patch("orders.fraud.rules.fraud_assess", return_value=["new card, high value"]):
        pay(customer, django_capture_on_commit_callbacks, order)
    held = Order.objects.get(pk=order["id"])
    assert held.status == "in_review"
    assert held.review_reasons == ["new card, high value"]
    return held.pk


@pytest.fixture
def held_b2b_order(bundles) -> int:
    vendor = cast(Vendor, VendorFactory(currency="USD"))
    fund(vendor, 10_000)
    with mock.patch("fulfilment.tasks.order_provision.delay"):
        order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    # A vendor order held before provisioning (a rule of the operator console).
    Order.objects.filter(pk=order.pk).update(status="in_review")
    return order.pk


def test_approving_a_held_order_provisions_it(held_b2c_order, django_capture_on_commit_callbacks):
    operator = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        order_review_approve(order_id=held_b2c_order, actor=operator, note="called the customer")
    order = Order.objects.get(pk=held_b2c_order)
    assert order.status == "completed"
    event = order.events.get(from_status="in_review")
    assert (event.to_status, event.actor, event.reason) == (
        "provisioning",
        operator,
        "called the customer",
    )


def test_rejecting_a_customer_order_refunds_it_exactly_once(
    held_b2c_order, django_capture_on_commit_callbacks
):
    operator = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        order_review_reject(order_id=held_b2c_order, actor=operator, note="stolen card")
    assert order_status(held_b2c_order) == "refunded"
    payment = Payment.objects.get(order_id=held_b2c_order)
    assert payment.refunded_amount == payment.amount
    with pytest.raises(DomainError) as err:
        order_review_reject(order_id=held_b2c_order, actor=operator, note="again")
    assert err.value.code == "invalid_state"
    with pytest.raises(DomainError):
        order_review_approve(order_id=held_b2c_order, actor=operator)
    assert Refund.objects.filter(payment=payment).count() == 1
    assert_ledger_sound()


def test_rejecting_a_vendor_order_voids_its_hold(held_b2b_order):
    order_review_reject(order_id=held_b2b_order, actor=None, note="sanctioned destination")
    assert order_status(held_b2b_order) == "cancelled"
    assert hold_status(held_b2b_order) == Hold.Status.VOIDED
    with pytest.raises(DomainError):
        order_review_reject(order_id=held_b2b_order, actor=None)
    assert_ledger_sound()


def test_review_services_refuse_orders_not_in_review(held_b2b_order):
    order_transition(order_id=held_b2b_order, to="provisioning", expected="in_review")
    with pytest.raises(DomainError) as err:
        order_review_approve(order_id=held_b2b_order, actor=None)
    assert err.value.code == "invalid_state"
