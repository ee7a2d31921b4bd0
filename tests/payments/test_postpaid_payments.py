"""A postpaid vendor's card payments settle what it owes: `POST /vendor/wallet/topups`
credits its receivable (oldest open invoice first) and shows on its statement, never in a
wallet nobody sees; `POST /vendor/invoices/{id}/pay` pays the invoice it names first."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from billing.accounts import vendor_ledger_account
from billing.models import Invoice
from billing.selectors import vendor_balance
from billing.services import vendor_adjustment
from console.dashboard import vendor_liabilities
from ledger.models import Account, Purpose
from payments.models import Payment
from tests.factories import VendorFactory
from tests.orders.helpers import assert_ledger_sound
from tests.payments.factories import vendor_client
from ttelgo.money import Money
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor() -> Vendor:
    vendor: Vendor = VendorFactory.create(
        billing_mode=Vendor.BillingMode.POSTPAID, currency="USD", credit_limit=100_000
    )
    # It owes 300.00: two months invoiced, 100.00 then 200.00.
    vendor_adjustment(vendor=vendor, amount=Money(-30_000, "USD"), reason="usage", actor=None)
    return vendor


def _invoice(vendor: Vendor, month: int, total: int) -> Invoice:
    start = date(2026, month, 1)
    return Invoice.objects.create(
        vendor=vendor,
        account=vendor_ledger_account(vendor=vendor, purpose=Purpose.RECEIVABLE),
        period_start=start,
        period_end=start + timedelta(days=27),
        currency="USD",
        total=total,
        opening_balance=0,
        closing_balance=total,
        due_date=timezone.now().date() + timedelta(days=10),
    )


def _succeed(api_client, capture, payment_intent_id: str) -> None:
    with capture(execute=True):
        response = api_client.post(f"/api/v1/sandbox/payment_intents/{payment_intent_id}/succeed")
    assert response.status_code == 200, response.content


def test_a_postpaid_topup_settles_the_oldest_invoices_and_shows_on_the_statement(
    api_client, vendor, django_capture_on_commit_callbacks
):
    older, newer = _invoice(vendor, 9, 10_000), _invoice(vendor, 10, 20_000)
    wallets_before = vendor_liabilities()
    client = vendor_client(vendor)
    response = client.post(
        "/api/v1/vendor/wallet/topups",
        {"amount": {"amount": "250.00", "currency": "USD"}},
        format="json",
        HTTP_IDEMPOTENCY_KEY="pp-1",
    )
    assert response.status_code == 201, response.content
    _succeed(api_client, django_capture_on_commit_callbacks, response.json()["payment_intent_id"])

    # What it owes fell by 250.00; no wallet was opened for it.
    assert vendor_balance(vendor=vendor).balance == Money(-5_000, "USD")
    assert not Account.objects.filter(holder=vendor.pk, purpose=Purpose.WALLET).exists()
    assert vendor_liabilities() == wallets_before
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, older.paid_amount) == (Invoice.Status.PAID, 10_000)
    assert (newer.status, newer.paid_amount) == (Invoice.Status.ISSUED, 15_000)
    statement = client.get("/api/v1/vendor/ledger").json()["results"]
    assert statement[0]["type"] == "invoice_settlement"
    assert statement[0]["amount"] == {"amount": "250.00", "currency": "USD"}
    assert statement[0]["balance_after"] == {"amount": "-50.00", "currency": "USD"}
    assert_ledger_sound()


def test_paying_one_invoice_settles_it_first_and_a_paid_one_is_refused(
    api_client, vendor, django_capture_on_commit_callbacks
):
    older, newer = _invoice(vendor, 9, 10_000), _invoice(vendor, 10, 20_000)
    client = vendor_client(vendor)
    url = f"/api/v1/vendor/invoices/{newer.pk}/pay"
    assert client.post(url).status_code == 400  # the Idempotency-Key is required
    response = client.post(url, HTTP_IDEMPOTENCY_KEY="inv-1")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == {"amount": "200.00", "currency": "USD"}
    assert body["client_secret"]
    payment = Payment.objects.get(payment_intent_id=body["payment_intent_id"])
    assert (payment.kind, payment.invoice_id) == (Payment.Kind.INVOICE, newer.pk)
    _succeed(api_client, django_capture_on_commit_callbacks, payment.payment_intent_id)

    newer.refresh_from_db()
    older.refresh_from_db()
    assert newer.status == Invoice.Status.PAID and newer.paid_at is not None
    assert (older.status, older.paid_amount) == (Invoice.Status.ISSUED, 0)
    assert vendor_balance(vendor=vendor).balance == Money(-10_000, "USD")

    again = client.post(url, HTTP_IDEMPOTENCY_KEY="inv-2")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_state"
    # Another vendor's invoice does not exist for this key.
    other = VendorFactory(billing_mode=Vendor.BillingMode.POSTPAID, currency="USD")
    theirs = _invoice(other, 9, 5_000)
    missing = client.post(f"/api/v1/vendor/invoices/{theirs.pk}/pay", HTTP_IDEMPOTENCY_KEY="x")
    assert missing.status_code == 404
    assert Payment.objects.filter(invoice=theirs).count() == 0
    assert_ledger_sound()


def test_a_refunded_postpaid_payment_is_owed_again(
    api_client, vendor, django_capture_on_commit_callbacks
):
    from billing.services import vendor_wallet_topup_refund

    client = vendor_client(vendor)
    response = client.post(
        "/api/v1/vendor/wallet/topups",
        {"amount": {"amount": "100.00", "currency": "USD"}},
        format="json",
        HTTP_IDEMPOTENCY_KEY="pp-2",
    )
    _succeed(api_client, django_capture_on_commit_callbacks, response.json()["payment_intent_id"])
    assert vendor_balance(vendor=vendor).balance == Money(-20_000, "USD")
    _, shortfall = vendor_wallet_topup_refund(
        vendor=vendor, amount=Money(10_000, "USD"), reference="refund:re_1"
    )
    assert shortfall == Money(0, "USD")
    assert vendor_balance(vendor=vendor).balance == Money(-30_000, "USD")
    assert_ledger_sound()
