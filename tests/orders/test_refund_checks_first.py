"""A refund that is refused takes nothing back: every check (the amount against what is
left, its currency, refunds still under way, the order's state) comes before the first
revocation at the provider, in the operator's order refund and in an eSIM refund.

Before, a console refund of 10.00 on a 9.00 order was refused ("must be between 0 and
9.00") after both eSIMs had been revoked: the customer got nothing and kept nothing."""

from __future__ import annotations

import pytest

from billing.selectors import vendor_balance
from fulfilment.models import Esim, EsimRefund
from fulfilment.operator import operator_order_refund
from fulfilment.refunds import operator_esim_refund_approve
from orders.models import Order
from payments.models import Payment, Refund
from sandbox.models import SandboxBundleAssignment
from tests.console.factories import operator
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, RETAIL, customer_client, fund, vendor_client
from tests.orders.helpers import assert_ledger_sound, buy_b2b, buy_b2c, pay, post
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.models import Vendor

pytestmark = pytest.mark.django_db
PRICE = RETAIL[BUNDLE_CODE]


def _nothing_revoked(order_id: int) -> None:
    statuses = set(Esim.objects.filter(order_id=order_id).values_list("status", flat=True))
    assert statuses == {Esim.Status.RELEASED}
    assert not SandboxBundleAssignment.objects.filter(revoked=True).exists()


@pytest.fixture
def card_order(bundles, django_capture_on_commit_callbacks) -> Order:
    customer = customer_client(UserFactory())
    placed = buy_b2c(customer, django_capture_on_commit_callbacks, quantity=2)
    pay(customer, django_capture_on_commit_callbacks, placed)
    order = Order.objects.get(pk=placed["id"])
    assert order.status == Order.Status.COMPLETED
    return order


@pytest.fixture
def vendor_api(bundles):
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    return vendor_client(vendor)


def test_a_card_refund_over_what_is_left_revokes_nothing(card_order):
    with pytest.raises(DomainError) as refused:
        operator_order_refund(
            order_id=card_order.pk,
            actor=operator("finance"),
            amount=Money(2 * PRICE + 100, "USD"),
            reason="too much",
        )
    assert refused.value.code == "validation_error"
    assert f"between 0 and {Money(2 * PRICE, 'USD')}" in refused.value.message
    _nothing_revoked(card_order.pk)
    assert not Refund.objects.exists()
    # The order can still be refunded in part afterwards; the customer keeps both eSIMs.
    refund = operator_order_refund(
        order_id=card_order.pk, actor=operator("finance"), amount=Money(100, "USD"), reason="x"
    )
    assert refund.amount == 100
    _nothing_revoked(card_order.pk)


def test_a_refund_in_another_currency_or_of_nothing_revokes_nothing(card_order):
    for amount in (Money(2 * PRICE, "EUR"), Money(0, "USD")):
        with pytest.raises(DomainError) as refused:
            operator_order_refund(
                order_id=card_order.pk, actor=operator("finance"), amount=amount, reason="x"
            )
        assert refused.value.code == "validation_error"
    _nothing_revoked(card_order.pk)


def test_a_full_refund_while_another_is_under_way_revokes_nothing(card_order):
    payment = Payment.objects.get(order=card_order)
    Refund.objects.create(payment=payment, amount=PRICE, currency="USD")  # at the gateway
    with pytest.raises(DomainError) as refused:
        operator_order_refund(
            order_id=card_order.pk,
            actor=operator("finance"),
            amount=Money(2 * PRICE, "USD"),
            reason="everything",
        )
    assert refused.value.code == "validation_error"
    _nothing_revoked(card_order.pk)


def test_a_vendor_refund_over_what_is_left_revokes_nothing(
    vendor_api, django_capture_on_commit_callbacks
):
    response = buy_b2b(vendor_api, django_capture_on_commit_callbacks, quantity=2)
    order = Order.objects.get(pk=response.json()["id"])
    before = vendor_balance(vendor=vendor_api.vendor).available.amount
    with pytest.raises(DomainError) as refused:
        operator_order_refund(
            order_id=order.pk,
            actor=operator("finance"),
            amount=Money(2 * PRICE + 1, "USD"),
            reason="too much",
        )
    assert refused.value.code == "validation_error"
    _nothing_revoked(order.pk)
    assert vendor_balance(vendor=vendor_api.vendor).available.amount == before
    assert_ledger_sound()


def test_an_esim_refund_the_order_can_no_longer_pay_revokes_nothing(
    vendor_api, django_capture_on_commit_callbacks
):
    """An operator gave most of the order back meanwhile: less than the eSIM's share is
    left, so the eSIM refund is refused before the eSIM is taken back."""
    response = buy_b2b(vendor_api, django_capture_on_commit_callbacks, quantity=2)
    order = Order.objects.get(pk=response.json()["id"])
    first = Esim.objects.filter(order=order).order_by("id").first()
    assert first is not None
    operator_order_refund(
        order_id=order.pk,
        actor=operator("finance"),
        amount=Money(2 * PRICE - 100, "USD"),
        reason="goodwill",
    )
    refused = post(vendor_api, f"/api/v1/vendor/esims/{first.iccid}/refund", {"reason": "x"})
    assert refused.status_code == 409, refused.content
    error = refused.json()["error"]
    assert error["code"] == "refund_not_allowed"
    assert error["details"]["reason"] == "order_not_refundable"
    assert error["details"]["refundable"] == {"amount": "1.00", "currency": "USD"}
    _nothing_revoked(order.pk)
    assert EsimRefund.objects.get().status == EsimRefund.Status.REJECTED
    assert_ledger_sound()


def test_an_approval_of_a_held_refund_the_order_can_no_longer_pay_revokes_nothing(
    card_order, django_capture_on_commit_callbacks
):
    Order.objects.filter(pk=card_order.pk).update(disputed_at=card_order.updated_at)
    esim = Esim.objects.filter(order=card_order).order_by("id").first()
    assert esim is not None
    customer = customer_client(card_order.customer)
    held = post(customer, f"/api/v1/esims/{esim.iccid}/refund", {"reason": "x"})
    assert held.status_code == 201 and held.json()["status"] == "in_review"
    operator_order_refund(
        order_id=card_order.pk,
        actor=operator("finance"),
        amount=Money(2 * PRICE - 1, "USD"),
        reason="goodwill",
    )
    with pytest.raises(DomainError) as refused:
        operator_esim_refund_approve(
            refund_id=held.json()["id"], actor=operator("finance"), note="ok"
        )
    assert refused.value.code == "refund_not_allowed"
    _nothing_revoked(card_order.pk)
    with pytest.raises(DomainError) as again:  # decided: not in review any more
        operator_esim_refund_approve(
            refund_id=held.json()["id"], actor=operator("finance"), note="ok"
        )
    assert again.value.code == "invalid_state"
