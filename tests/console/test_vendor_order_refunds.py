"""Refunding a vendor's order from the console: the money goes back to the wallet (prepaid)
or off the receivable (postpaid), never more than was charged; a full refund moves the
order to `refunded`; the vendor hears `order.refunded`; support stays within its limit;
every refund is audited."""

from __future__ import annotations

import pytest
from django.test import Client

from billing.selectors import vendor_balance
from fulfilment.operator import operator_order_refund
from orders.models import Order, OrderEvent
from tests.console.factories import operator
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, RETAIL, credit_line, fund, vendor_client
from tests.orders.helpers import assert_ledger_sound, buy_b2b
from tests.webhooks.factories import endpoint_for, events_publish
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog
from ttelgo.money import Money
from vendors.models import Vendor
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

PRICE = RETAIL[BUNDLE_CODE]


def _completed_order(client, capture, quantity: int = 2) -> Order:
    response = buy_b2b(client, capture, quantity=quantity)
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED
    return order


@pytest.fixture
def prepaid(bundles):
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    endpoint_for(vendor, events=["order.refunded"])
    return vendor_client(vendor)


def test_finance_refunds_a_vendor_order_in_full_back_to_the_wallet(
    prepaid, django_capture_on_commit_callbacks
):
    order = _completed_order(prepaid, django_capture_on_commit_callbacks)
    before = vendor_balance(vendor=prepaid.vendor).available.amount
    with django_capture_on_commit_callbacks(execute=True):
        refund = operator_order_refund(
            order_id=order.pk, actor=operator("finance"), amount=None, reason="eSIMs never worked"
        )
    assert (refund.amount, refund.currency) == (2 * PRICE, "USD")
    assert vendor_balance(vendor=prepaid.vendor).available.amount == before + 2 * PRICE
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert OrderEvent.objects.filter(order=order, to_status="refunded").exists()
    event = WebhookEvent.objects.get(vendor=prepaid.vendor, type="order.refunded")
    assert event.data["refund"] == {"amount": f"{2 * PRICE / 100:.2f}", "currency": "USD"}
    assert event.data["status"] == "refunded" and event.data["order_id"] == order.pk
    audit = AuditLog.objects.get(action="order.refund")
    assert audit.before["refundable"]["amount"] == f"{2 * PRICE / 100:.2f}"
    assert audit.after["refundable"]["amount"] == "0.00"
    assert_ledger_sound()
    # Nothing is left to give back.
    with pytest.raises(DomainError) as exc:
        operator_order_refund(
            order_id=order.pk, actor=operator("finance"), amount=None, reason="again"
        )
    assert exc.value.code == "invalid_state"


def test_partial_refunds_add_up_to_the_charge_and_no_further(
    prepaid, django_capture_on_commit_callbacks, settings
):
    settings.SUPPORT_REFUND_LIMIT = PRICE
    order = _completed_order(prepaid, django_capture_on_commit_callbacks)
    support = operator("support")
    with pytest.raises(DomainError) as exc:  # the whole order is over support's limit
        operator_order_refund(order_id=order.pk, actor=support, amount=None, reason="x")
    assert exc.value.code == "permission_denied"

    operator_order_refund(
        order_id=order.pk, actor=support, amount=Money(PRICE, "USD"), reason="one unused"
    )
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED  # a partial refund leaves it completed
    with pytest.raises(DomainError) as exc:
        operator_order_refund(
            order_id=order.pk, actor=support, amount=Money(PRICE + 1, "USD"), reason="too much"
        )
    assert exc.value.code in ("validation_error", "permission_denied")
    # Support's limit holds for the order's refunds together: the rest is finance's call.
    with pytest.raises(DomainError) as exc:
        operator_order_refund(
            order_id=order.pk, actor=support, amount=Money(PRICE, "USD"), reason="split"
        )
    assert exc.value.code == "permission_denied"
    operator_order_refund(
        order_id=order.pk,
        actor=operator("finance"),
        amount=Money(PRICE, "USD"),
        reason="the other one",
    )
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    events_publish()
    assert WebhookEvent.objects.filter(vendor=prepaid.vendor, type="order.refunded").count() == 2
    assert AuditLog.objects.filter(action="order.refund").count() == 2
    assert_ledger_sound()


def test_a_postpaid_refund_comes_off_the_receivable(bundles, django_capture_on_commit_callbacks):
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.POSTPAID, currency="USD")
    credit_line(vendor, 100_000)
    client = vendor_client(vendor)
    order = _completed_order(client, django_capture_on_commit_callbacks, quantity=1)
    assert vendor_balance(vendor=vendor).balance.amount == -PRICE  # owed
    operator_order_refund(order_id=order.pk, actor=operator("finance"), amount=None, reason="x")
    assert vendor_balance(vendor=vendor).balance.amount == 0
    assert_ledger_sound()


def test_an_order_that_was_never_charged_cannot_be_refunded_to_the_vendor(
    prepaid, django_capture_on_commit_callbacks
):
    order = _completed_order(prepaid, django_capture_on_commit_callbacks)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.FAILED)
    with pytest.raises(DomainError) as exc:
        operator_order_refund(
            order_id=order.pk, actor=operator("finance"), amount=Money(1, "USD"), reason="x"
        )
    assert exc.value.code == "invalid_state"
    assert not AuditLog.objects.filter(action="order.refund").exists()


def test_the_console_refund_form_refunds_a_vendor_order(
    prepaid, django_capture_on_commit_callbacks
):
    order = _completed_order(prepaid, django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(operator("finance"))
    page = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert f"/admin/orders/order/{order.pk}/refund/" in page
    response = client.post(
        f"/admin/orders/order/{order.pk}/refund/",
        {"amount": "", "reason": "outage", "_confirmed": "1"},
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_the_console_refund_form_shows_what_is_left_of_a_vendor_order(
    prepaid, django_capture_on_commit_callbacks
):
    from fulfilment.operator import order_left_to_refund

    order = _completed_order(prepaid, django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(operator("finance"))
    page = client.get(f"/admin/orders/order/{order.pk}/refund/").content.decode()
    left = order_left_to_refund(order=order)
    assert left is not None and left.amount == order.total
    assert f'<dt class="font-semibold">Left to refund</dt><dd>{left}</dd>' in page
