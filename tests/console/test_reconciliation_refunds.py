"""Reconciliation of refunds against revoked eSIMs: an order whose refunds exceed the
share of its revoked eSIMs (besides what operators chose to refund) is flagged, and so
is an eSIM revoked without its money going back. Refunds made the normal ways are not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.services import vendor_order_refund
from fulfilment.models import Esim
from fulfilment.operator import operator_order_refund
from fulfilment.revocation import order_esims_revoke
from orders.models import Order
from payments.models import Payment
from payments.services import payment_refund
from reconciliation.models import ReconciliationFinding
from reconciliation.services import check_refunds, reconciliation_run
from tests.console.factories import operator
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, RETAIL, customer_client, fund, vendor_client
from tests.orders.helpers import buy_b2b, buy_b2c, pay, post
from ttelgo.money import Money
from vendors.models import Vendor

pytestmark = pytest.mark.django_db
PRICE = RETAIL[BUNDLE_CODE]


def found() -> list[tuple[str, str]]:
    since = timezone.now() - timedelta(days=1)
    return sorted((f["code"], f["object_id"]) for f in check_refunds(since=since))


@pytest.fixture
def vendor_api(bundles):
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    return vendor_client(vendor)


@pytest.fixture
def vendor_order(vendor_api, django_capture_on_commit_callbacks) -> Order:
    response = buy_b2b(vendor_api, django_capture_on_commit_callbacks, quantity=3)
    assert response.status_code == 201, response.content
    return Order.objects.get(pk=response.json()["id"])


@pytest.fixture
def card_order(bundles, django_capture_on_commit_callbacks) -> Order:
    customer = customer_client(UserFactory())
    placed = buy_b2c(customer, django_capture_on_commit_callbacks, quantity=3)
    pay(customer, django_capture_on_commit_callbacks, placed)
    order = Order.objects.get(pk=placed["id"])
    order.client = customer  # type: ignore[attr-defined]
    return order


def _esims(order: Order) -> list[Esim]:
    return list(Esim.objects.filter(order=order).order_by("id"))


def test_refunds_made_the_normal_ways_are_clean(
    vendor_api, vendor_order, card_order, django_capture_on_commit_callbacks
):
    first = _esims(vendor_order)[0]
    with django_capture_on_commit_callbacks(execute=True):
        done = post(vendor_api, f"/api/v1/vendor/esims/{first.iccid}/refund", {"reason": "x"})
    assert done.status_code == 201, done.content
    mine = _esims(card_order)[0]
    with django_capture_on_commit_callbacks(execute=True):
        done = post(card_order.client, f"/api/v1/esims/{mine.iccid}/refund", {"reason": "x"})  # type: ignore[attr-defined]
    assert done.status_code == 201, done.content
    finance = operator("finance")
    # An operator's goodwill refund revokes nothing, and is no discrepancy.
    operator_order_refund(
        order_id=card_order.pk, actor=finance, amount=Money(100, "USD"), reason="goodwill"
    )
    operator_order_refund(
        order_id=vendor_order.pk, actor=finance, amount=Money(100, "USD"), reason="goodwill"
    )
    assert found() == []
    # A full refund revokes the rest and pays the rest: still clean.
    with django_capture_on_commit_callbacks(execute=True):
        operator_order_refund(order_id=vendor_order.pk, actor=finance, amount=None, reason="all")
    assert found() == []
    run = reconciliation_run()
    assert run.summary["refunds"] == 0


def test_esims_revoked_without_a_refund_are_flagged(card_order):
    """What a refused operator refund used to leave: every eSIM revoked, nothing paid."""
    order_esims_revoke(order=card_order)
    iccids = [e.iccid for e in _esims(card_order)]
    assert found() == sorted(("esim_revoked_unrefunded", i) for i in iccids)
    run = reconciliation_run()
    flagged = run.findings.filter(category=ReconciliationFinding.Category.REFUNDS)
    assert sorted(flagged.values_list("object_id", flat=True)) == sorted(iccids)
    assert {f.order_id for f in flagged} == {card_order.pk}


def test_an_esim_refund_paid_twice_to_a_vendor_is_flagged(
    vendor_api, vendor_order, django_capture_on_commit_callbacks
):
    first = _esims(vendor_order)[0]
    with django_capture_on_commit_callbacks(execute=True):
        post(vendor_api, f"/api/v1/vendor/esims/{first.iccid}/refund", {"reason": "x"})
    assert found() == []
    # A second payout for the same eSIM under a reference of its own (the old defect).
    vendor_order_refund(
        order_id=vendor_order.pk, amount=Money(PRICE, "USD"), reference="order:x:refund:dup"
    )
    ((code, object_id),) = found()
    assert (code, object_id) == ("refunds_exceed_revoked", str(vendor_order.pk))


def test_an_esim_refund_paid_twice_to_a_card_is_flagged(
    card_order, django_capture_on_commit_callbacks
):
    first = _esims(card_order)[0]
    with django_capture_on_commit_callbacks(execute=True):
        post(card_order.client, f"/api/v1/esims/{first.iccid}/refund", {"reason": "x"})  # type: ignore[attr-defined]
    payment = Payment.objects.get(order=card_order)
    payment_refund(payment=payment, amount=Money(PRICE, "USD"), reason="again")
    codes = found()
    assert codes == [("refunds_exceed_revoked", str(card_order.pk))]
