"""`POST /vendor/invoices/{id}/pay` hands out one PaymentIntent per amount due: requests
with different Idempotency-Keys, at once or one after the other, get the same open intent,
so a vendor paying every intent it was handed pays the invoice once. Before, twenty
parallel requests made twenty intents and paying them charged the invoice twenty times."""

from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing.accounts import vendor_ledger_account
from billing.models import Invoice
from billing.services import vendor_adjustment
from ledger.models import Purpose, Transaction
from payments.models import Payment
from sandbox.models import SandboxPaymentIntent
from sandbox.stripe import sandbox_intent_fail, sandbox_intent_succeed
from tests.factories import VendorFactory
from tests.orders.helpers import assert_ledger_sound
from tests.payments.factories import vendor_client
from ttelgo.money import Money
from vendors.models import Vendor

DUE = 12_345


def _invoice() -> tuple[Vendor, Invoice]:
    vendor: Vendor = VendorFactory.create(
        billing_mode=Vendor.BillingMode.POSTPAID, currency="USD", credit_limit=100_000
    )
    vendor_adjustment(vendor=vendor, amount=Money(-DUE, "USD"), reason="usage", actor=None)
    start = date(2026, 10, 1)
    invoice = Invoice.objects.create(
        vendor=vendor,
        account=vendor_ledger_account(vendor=vendor, purpose=Purpose.RECEIVABLE),
        period_start=start,
        period_end=start + timedelta(days=30),
        currency="USD",
        total=DUE,
        opening_balance=0,
        closing_balance=DUE,
        due_date=timezone.now().date() + timedelta(days=10),
    )
    return vendor, invoice


def _pay(client, invoice: Invoice):
    return client.post(
        f"/api/v1/vendor/invoices/{invoice.pk}/pay", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )


@pytest.mark.django_db
def test_two_requests_with_different_keys_get_the_same_intent(django_capture_on_commit_callbacks):
    vendor, invoice = _invoice()
    client = vendor_client(vendor)
    first, second = _pay(client, invoice), _pay(client, invoice)
    assert first.status_code == second.status_code == 201, (first.content, second.content)
    assert first.json()["payment_intent_id"] == second.json()["payment_intent_id"]
    assert first.json()["amount"] == {"amount": "123.45", "currency": "USD"}
    # A declined card leaves the same intent to retry with another card.
    sandbox_intent_fail(payment_intent_id=first.json()["payment_intent_id"])
    after_decline = _pay(client, invoice)
    assert after_decline.json()["payment_intent_id"] == first.json()["payment_intent_id"]
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_intent_succeed(payment_intent_id=first.json()["payment_intent_id"])
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    paid = _pay(client, invoice)
    assert paid.status_code == 409 and paid.json()["error"]["code"] == "invalid_state"
    assert Payment.objects.filter(invoice=invoice).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_requests_pay_the_invoice_once():
    vendor, invoice = _invoice()
    clients = [vendor_client(vendor) for _ in range(20)]
    barrier = threading.Barrier(len(clients))
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def ask(client) -> None:
        try:
            barrier.wait(timeout=30)
            response = _pay(client, invoice)
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert sorted(code for code, _ in answers) == [201] * 20
    intents = {body["payment_intent_id"] for _, body in answers}
    assert len(intents) == 1
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert SandboxPaymentIntent.objects.count() == 1
    for intent in intents:  # the vendor pays what it was handed
        sandbox_intent_succeed(payment_intent_id=intent)
    invoice.refresh_from_db()
    assert invoice.paid_amount == DUE and invoice.status == Invoice.Status.PAID
    assert Transaction.objects.filter(kind="invoice_settlement").count() == 1
    assert_ledger_sound()
