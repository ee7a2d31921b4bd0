"""Ledger admin: balances, read-only transactions, trial balance, invoice downloads, settle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from billing import invoicing, services
from billing.models import Invoice
from ledger import services as ledger_services
from ledger.models import Transaction
from tests.factories import UserFactory
from tests.ledger.factories import fund, postpaid, prepaid, usd

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    user: Any = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    client.user = user  # type: ignore[attr-defined]
    return client


@pytest.fixture
def invoice() -> Invoice:
    with time_machine.travel(datetime(2026, 9, 10, tzinfo=UTC), tick=False):
        vendor = postpaid(credit_limit=50_000)
        services.vendor_order_reserve(vendor=vendor, order_id=1, amount=usd(1_234))
        services.vendor_order_capture(order_id=1, metadata={"bundle_code": "EU_1GB"})
    with time_machine.travel(datetime(2026, 10, 1, 1, tzinfo=UTC), tick=False):
        return invoicing.invoice_close_month(vendor=vendor, year=2026, month=9)


def test_accounts_list_shows_balances(admin_client):
    fund(prepaid(), 4_550)
    response = admin_client.get(reverse("admin:ledger_account_changelist"))
    assert response.status_code == 200
    assert "45.50 USD" in response.content.decode()


def test_platform_accounts_show_the_sum_of_their_entries_in_their_normal_direction(
    admin_client,
):
    ledger_services.order_cost_record(cost=usd(1_234), reference="cost:1", order_id=1)
    page = admin_client.get(reverse("admin:ledger_account_changelist")).content.decode()
    # cogs (debit-normal) and provider payable (credit-normal) both owe 12.34, positive.
    assert page.count("12.34 USD") == 2
    assert "-12.34 USD" not in page


def test_transactions_are_read_only_with_their_entries(admin_client):
    fund(prepaid(), 500)
    txn = Transaction.objects.get()
    page = admin_client.get(reverse("admin:ledger_transaction_change", args=[txn.id]))
    assert page.status_code == 200
    body = page.content.decode()
    assert txn.reference in body and "-500" in body
    assert admin_client.get(reverse("admin:ledger_transaction_add")).status_code == 403
    delete = admin_client.post(reverse("admin:ledger_transaction_delete", args=[txn.id]))
    assert delete.status_code == 403
    assert Transaction.objects.filter(id=txn.id).exists()


def test_trial_balance_page_balances(admin_client):
    fund(prepaid(), 700)
    ledger_services.b2c_payment_captured(amount=usd(300), reference="pi")
    response = admin_client.get(reverse("admin:ledger_trial_balance"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Debits equal credits" in body and "10.00 USD" in body


def test_trial_balance_needs_staff():
    client = Client()
    response = client.get(reverse("admin:ledger_trial_balance"))
    assert response.status_code == 302


def test_invoice_downloads(admin_client, invoice):
    csv_resp = admin_client.get(reverse("admin:billing_invoice_csv", args=[invoice.id]))
    assert csv_resp["Content-Type"] == "text/csv"
    assert "12.34" in csv_resp.content.decode()
    pdf_resp = admin_client.get(reverse("admin:billing_invoice_pdf", args=[invoice.id]))
    assert pdf_resp["Content-Type"] == "application/pdf"
    assert pdf_resp.content.startswith(b"%PDF")


def test_settle_action_calls_the_service_once(admin_client, invoice):
    url = reverse("admin:billing_invoice_changelist")
    form = {"action": "settle_outstanding", "_selected_action": [invoice.id]}
    assert admin_client.post(url, form).status_code == 302
    admin_client.post(url, form)  # a second click has nothing outstanding
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount) == (Invoice.Status.PAID, 1_234)
    settlement = Transaction.objects.get(kind="invoice_settlement")
    assert settlement.actor_id == admin_client.user.id
