"""A full refund takes back what the order delivered: unused eSIMs are revoked at the
provider (their QR stops, no top-up lands on them, the vendor hears `esim.revoked`, the
provider's cost is reversed) before any money moves. An eSIM in use is not taken back:
the full refund is refused with a plain reason and a partial one leaves it with the
customer. Reconciliation does not call a refunded-and-revoked order "paid for, nobody
got it"."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone

from billing.selectors import vendor_balance
from fulfilment.models import Esim, ProviderRefund
from fulfilment.operator import operator_order_refund
from fulfilment.provider_refunds import provider_refunds_collect
from ledger.models import Entry, Purpose, Transaction
from orders.models import Order
from reconciliation.services import check_provider
from sandbox.models import SandboxBundleAssignment
from sandbox.provider import SandboxFaults, sandbox_faults_reset, sandbox_faults_set
from tests.console.factories import operator
from tests.factories import VendorFactory
from tests.orders.factories import (
    BUNDLE_CODE,
    COST,
    RETAIL,
    TOPUP_CODE,
    customer_client,
    fund,
    vendor_client,
)
from tests.orders.helpers import assert_ledger_sound, buy_b2b, buy_b2c, pay, post
from tests.webhooks.factories import endpoint_for
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.models import Vendor
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(bundles):
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    endpoint_for(vendor, events=["esim.revoked"])
    return vendor_client(vendor)


def _completed(client, capture, quantity: int = 2) -> Order:
    response = buy_b2b(client, capture, quantity=quantity)
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED
    return order


def _platform_balance(purpose: str) -> int:
    total = Entry.objects.filter(account__purpose=purpose, account__holder__isnull=True).aggregate(
        s=Sum("amount")
    )["s"]
    return int(total or 0)


def test_a_full_refund_revokes_the_unused_esims_before_the_money_goes_back(
    client, django_capture_on_commit_callbacks
):
    order = _completed(client, django_capture_on_commit_callbacks)
    iccids = sorted(order.esims.values_list("iccid", flat=True))
    payable_before = _platform_balance(Purpose.PROVIDER_PAYABLE)
    with django_capture_on_commit_callbacks(execute=True):
        operator_order_refund(
            order_id=order.pk, actor=operator("finance"), amount=None, reason="trip cancelled"
        )
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert set(order.esims.values_list("status", flat=True)) == {Esim.Status.REVOKED}
    # The provider took both bundles back.
    assert SandboxBundleAssignment.objects.filter(esim__iccid__in=iccids, revoked=True).count() == 2
    # What they cost is owed back to us until the provider shows the refunds, then what
    # we owe the provider falls by it; the ledger balances throughout.
    receivable = _platform_balance(Purpose.PROVIDER_REFUND_RECEIVABLE)
    assert receivable == 2 * COST[BUNDLE_CODE]
    assert _platform_balance(Purpose.PROVIDER_PAYABLE) == payable_before
    assert_ledger_sound()
    assert len(provider_refunds_collect()) == 2
    assert _platform_balance(Purpose.PROVIDER_REFUND_RECEIVABLE) == 0
    assert _platform_balance(Purpose.PROVIDER_PAYABLE) - payable_before == 2 * COST[BUNDLE_CODE]
    assert set(ProviderRefund.objects.values_list("status", flat=True)) == {"received"}
    assert (
        Transaction.objects.filter(
            order_id=order.pk, kind=Transaction.Kind.ORDER_COST_REVERSAL
        ).count()
        == 2
    )
    assert_ledger_sound()
    events = WebhookEvent.objects.filter(type="esim.revoked", vendor=client.vendor)
    assert sorted(e.data["iccid"] for e in events) == iccids
    assert any("revoked at the provider" in e.reason for e in order.events.all())
    # The QR installs nothing any more and no top-up lands on a revoked eSIM.
    qr = client.get(f"/api/v1/vendor/esims/{iccids[0]}/qr")
    assert qr.status_code == 409 and qr.json()["error"]["code"] == "invalid_state"
    topup = post(client, f"/api/v1/vendor/esims/{iccids[0]}/topups", {"bundle_code": TOPUP_CODE})
    assert topup.status_code == 409, topup.content
    # Reconciliation: the provider's completed order for it is not "nobody got it".
    codes = [f.code for f in check_provider(since=timezone.now() - timedelta(days=1))]
    assert "provider_order_for_closed_order" not in codes


def test_an_esim_in_use_refuses_the_full_refund_and_a_partial_one_leaves_it_to_the_customer(
    client, django_capture_on_commit_callbacks
):
    order = _completed(client, django_capture_on_commit_callbacks)
    used = order.esims.order_by("id").first()
    Esim.objects.filter(pk=used.pk).update(status=Esim.Status.ACTIVE)
    before = vendor_balance(vendor=client.vendor).available
    with pytest.raises(DomainError) as exc:
        operator_order_refund(
            order_id=order.pk, actor=operator("finance"), amount=None, reason="full please"
        )
    assert exc.value.code == "invalid_state"
    assert "cannot be taken back" in exc.value.message and used.iccid in exc.value.message
    assert "keeps it" in exc.value.message
    assert exc.value.details["in_use"] == [used.iccid]
    # Nothing revoked, nothing refunded.
    assert not SandboxBundleAssignment.objects.filter(revoked=True).exists()
    assert vendor_balance(vendor=client.vendor).available == before
    assert not order.esims.filter(status=Esim.Status.REVOKED).exists()

    operator_order_refund(
        order_id=order.pk,
        actor=operator("finance"),
        amount=Money(RETAIL[BUNDLE_CODE], "USD"),
        reason="one never worked",
    )
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert not order.esims.filter(status=Esim.Status.REVOKED).exists()
    assert vendor_balance(vendor=client.vendor).available.amount == (
        before.amount + RETAIL[BUNDLE_CODE]
    )


def test_a_bundle_the_provider_says_has_started_is_kept_and_the_refund_refused(
    client, django_capture_on_commit_callbacks
):
    order = _completed(client, django_capture_on_commit_callbacks, quantity=1)
    before = vendor_balance(vendor=client.vendor).available
    # Our records still say "released"; the provider knows better (first use started it).
    with (
        time_machine.travel(timezone.now() + timedelta(hours=2)),
        pytest.raises(DomainError) as exc,
    ):
        operator_order_refund(
            order_id=order.pk, actor=operator("finance"), amount=None, reason="full"
        )
    assert exc.value.code == "invalid_state" and "in use" in exc.value.message
    assert vendor_balance(vendor=client.vendor).available == before
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED


def test_the_provider_unreachable_leaves_everything_as_it_was(
    client, django_capture_on_commit_callbacks
):
    order = _completed(client, django_capture_on_commit_callbacks, quantity=1)
    before = vendor_balance(vendor=client.vendor).available
    sandbox_faults_set(SandboxFaults(mode="503"))
    try:
        with pytest.raises(DomainError) as exc:
            operator_order_refund(
                order_id=order.pk, actor=operator("finance"), amount=None, reason="full"
            )
    finally:
        sandbox_faults_reset()
    assert exc.value.code == "provider_unavailable"
    assert "nothing was refunded" in exc.value.message
    assert vendor_balance(vendor=client.vendor).available == before
    assert order.esims.get().status == Esim.Status.RELEASED
    # Once the provider is back, the same refund goes through.
    operator_order_refund(order_id=order.pk, actor=operator("finance"), amount=None, reason="x")
    assert order.esims.get().status == Esim.Status.REVOKED


def test_a_customer_full_refund_revokes_too(bundles, django_capture_on_commit_callbacks):
    from tests.factories import UserFactory

    customer = customer_client(UserFactory())
    order = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, order)
    row = Order.objects.get(pk=order["id"])
    assert row.status == Order.Status.COMPLETED
    with django_capture_on_commit_callbacks(execute=True):
        operator_order_refund(
            order_id=row.pk, actor=operator("finance"), amount=None, reason="changed plans"
        )
    row.refresh_from_db()
    assert row.esims.get().status == Esim.Status.REVOKED
    assert row.status == Order.Status.REFUNDED
    assert_ledger_sound()


def test_a_full_refund_of_a_topup_revokes_its_bundle_and_keeps_the_esim(
    client, django_capture_on_commit_callbacks
):
    order = _completed(client, django_capture_on_commit_callbacks, quantity=1)
    esim = order.esims.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client, f"/api/v1/vendor/esims/{esim.iccid}/topups", {"bundle_code": TOPUP_CODE}
        )
    assert response.status_code == 201, response.content
    topup = Order.objects.get(pk=response.json()["id"])
    assert topup.status == Order.Status.COMPLETED
    operator_order_refund(order_id=topup.pk, actor=operator("finance"), amount=None, reason="x")
    esim.refresh_from_db()
    assert esim.status != Esim.Status.REVOKED  # the first bundle stays
    assignments = SandboxBundleAssignment.objects.filter(esim__iccid=esim.iccid)
    assert assignments.get(bundle_code=TOPUP_CODE).revoked
    assert not assignments.get(bundle_code=BUNDLE_CODE).revoked
    assert Transaction.objects.filter(
        order_id=topup.pk, kind=Transaction.Kind.ORDER_COST_REVERSAL
    ).exists()
