"""Browser tests: an operator works through the console in headless Chromium, against the
real admin served by pytest-django's live server."""

from __future__ import annotations

import time

import pytest
from django.core import mail

from orders.models import Order
from sandbox.models import SandboxPaymentIntent
from tests.console.factories import OPERATOR_PASSWORD, operator, order_row
from tests.factories import VendorFactory
from vendors.models import Vendor

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_operator_logs_in_and_sees_the_dashboard(console):
    user = operator("admin")
    order_row(status=Order.Status.IN_REVIEW, total=4200)  # held: not a sale yet
    order_row(status=Order.Status.COMPLETED, total=4200)
    console.login(user.email, OPERATOR_PASSWORD)
    assert console.wait_css("[data-testid='open-reviews']").text == "1"
    assert console.wait_css("[data-testid='sales-today']").text == "42.00 USD"
    assert "sandbox: simulated" in console.text()


def test_operator_approves_a_pending_vendor(console):
    vendor = VendorFactory(name="Roam Partners", status=Vendor.Status.PENDING)
    mail.outbox.clear()
    user = operator("admin")
    console.login(user.email, OPERATOR_PASSWORD)
    console.click_link("Vendors waiting for approval")
    console.click_link("Roam Partners")
    console.open_form("a[href$='/approve/']")
    console.fill("reason", "KYC documents checked")
    console.submit("#operator-submit")
    console.wait_text("Roam Partners approved")
    vendor.refresh_from_db()
    assert vendor.status == Vendor.Status.ACTIVE
    wait_for(lambda: any(vendor.contact_email in m.to for m in mail.outbox))


def test_operator_runs_reconciliation_and_sees_a_planted_mismatch(console):
    SandboxPaymentIntent.objects.create(
        id="pi_planted_mismatch",
        idempotency_key="planted-browser",
        amount=1999,
        currency="USD",
        status="succeeded",
        client_secret="pi_planted_mismatch_secret",
        created=int(time.time()),
    )
    user = operator("finance")
    console.login(user.email, OPERATOR_PASSWORD)
    console.open("/admin/reconciliation/reconciliationrun/")
    console.open_form("a[href$='/run-now/']")
    console.submit("#operator-submit")
    console.wait_text("1 findings")
    body = console.text()
    assert "payment_missing" in body
    assert "pi_planted_mismatch" in body
