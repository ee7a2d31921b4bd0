"""An eSIM refund cut short after its eSIM was revoked is finished, once: by the next
request for the eSIM when the payment failed, by the resume job when the process died
(its claim lapses after `CLAIM_SECONDS`). The money moves under keys derived from the
refund's id, so finishing it never pays twice, even when the gateway had already made
the card refund before the process died."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from billing.selectors import vendor_balance
from fulfilment.models import Esim, EsimRefund
from fulfilment.refunds import CLAIM_SECONDS, esim_refund_request, esim_refunds_resume
from ledger.models import Transaction
from orders.models import Order
from payments.gateways import GatewayError
from payments.models import Payment, Refund
from sandbox.gateway import SandboxGateway
from sandbox.models import SandboxRefund
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, RETAIL, customer_client, fund, vendor_client
from tests.orders.helpers import assert_ledger_sound, buy_b2b, buy_b2c, pay, post
from vendors.models import Vendor

pytestmark = pytest.mark.django_db
PRICE = RETAIL[BUNDLE_CODE]
R = EsimRefund.Status


class Crash(BaseException):
    """The process dying mid-way: nothing of ours catches it."""


@pytest.fixture
def card_esim(bundles, django_capture_on_commit_callbacks) -> Esim:
    customer = customer_client(UserFactory())
    placed = buy_b2c(customer, django_capture_on_commit_callbacks, quantity=2)
    pay(customer, django_capture_on_commit_callbacks, placed)
    esim = Esim.objects.filter(order_id=placed["id"]).order_by("id").first()
    assert esim is not None
    esim.client = customer  # type: ignore[attr-defined]
    return esim


def _ask(esim: Esim) -> EsimRefund:
    return esim_refund_request(esim=esim, requested_by="customer:1", reason="plans")


def test_a_crash_after_the_gateway_refunded_is_finished_once_by_the_resume_job(
    card_esim, django_capture_on_commit_callbacks
):
    payment = Payment.objects.get(order_id=card_esim.order_id)
    with (
        mock.patch("payments.services._refund_record", side_effect=Crash),
        pytest.raises(Crash),
    ):
        _ask(card_esim)
    refund = EsimRefund.objects.get()
    assert refund.status == R.REFUNDING  # claimed by a process that is gone
    assert SandboxRefund.objects.count() == 1  # the gateway did refund the card
    card_esim.refresh_from_db()
    assert card_esim.status == Esim.Status.REVOKED
    # While the claim holds, nobody else carries it out.
    again = post(card_esim.client, f"/api/v1/esims/{card_esim.iccid}/refund", {"reason": "x"})  # type: ignore[attr-defined]
    assert again.status_code == 409
    assert again.json()["error"]["details"]["reason"] == "already_requested"
    assert esim_refunds_resume() == []
    with (
        time_machine.travel(timezone.now() + timedelta(seconds=CLAIM_SECONDS + 1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert esim_refunds_resume() == [refund.pk]
        assert esim_refunds_resume() == []
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == R.REFUNDED
    assert payment.refunded_amount == PRICE
    assert SandboxRefund.objects.count() == 1 and Refund.objects.count() == 1
    assert_ledger_sound()


def test_a_failed_card_refund_is_asked_again_under_the_same_key(card_esim):
    calls: list[str] = []
    real = SandboxGateway.refund

    def refund(self, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["idempotency_key"])
        if len(calls) == 1:
            raise GatewayError("timed out", code="api_connection_error")
        return real(self, **kwargs)

    with mock.patch.object(SandboxGateway, "refund", refund):
        first = post(card_esim.client, f"/api/v1/esims/{card_esim.iccid}/refund", {"reason": "x"})  # type: ignore[attr-defined]
        assert first.status_code == 502, first.content
        assert EsimRefund.objects.get().status == R.REQUESTED  # revoked, to be paid back
        second = post(card_esim.client, f"/api/v1/esims/{card_esim.iccid}/refund", {"reason": "x"})  # type: ignore[attr-defined]
    assert second.status_code == 201, second.content
    assert second.json()["status"] == "refunded"
    refund_id = EsimRefund.objects.get().pk
    assert calls[0] == calls[1] and calls[0].endswith(f":refund:esim_refund:{refund_id}")
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    assert Payment.objects.get(order_id=card_esim.order_id).refunded_amount == PRICE
    assert_ledger_sound()


def test_a_vendor_refund_cut_short_before_the_money_is_posted_once(
    bundles, django_capture_on_commit_callbacks
):
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    client = vendor_client(vendor)
    response = buy_b2b(client, django_capture_on_commit_callbacks, quantity=2)
    order = Order.objects.get(pk=response.json()["id"])
    esim = Esim.objects.filter(order=order).order_by("id").first()
    assert esim is not None
    before = vendor_balance(vendor=vendor).available.amount
    with (
        mock.patch("fulfilment.refunds.order_vendor_refund", side_effect=Crash),
        pytest.raises(Crash),
    ):
        esim_refund_request(esim=esim, requested_by=f"vendor:{vendor.pk}", reason="x")
    with time_machine.travel(timezone.now() + timedelta(seconds=CLAIM_SECONDS + 1)):
        refund_ids = esim_refunds_resume()
        assert esim_refunds_resume() == []
    assert refund_ids == [EsimRefund.objects.get().pk]
    assert vendor_balance(vendor=vendor).available.amount == before + PRICE
    (posted,) = Transaction.objects.filter(order_id=order.pk, kind="order_refund")
    assert posted.reference == f"esim_refund:{refund_ids[0]}"
    assert_ledger_sound()
