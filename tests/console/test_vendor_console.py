"""Roles: each operator role can do exactly its part of the console, and every operator
action leaves an audit row with who, what, before/after and why."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from billing.operator import operator_vendor_adjust
from billing.selectors import vendor_balance
from tests.console.factories import operator
from tests.factories import VendorFactory
from tests.ledger.factories import fund, postpaid, prepaid
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog
from ttelgo.money import Money
from vendors.models import Vendor
from vendors.operator import (
    operator_vendor_approve,
    operator_vendor_credit_limit,
    operator_vendor_suspend,
)

pytestmark = pytest.mark.django_db


def denied(fn, **kw) -> None:
    with pytest.raises(DomainError) as exc:
        fn(**kw)
    assert exc.value.code == "permission_denied"


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- credit limits -----------------------------------------------------------------------


def test_support_cannot_change_a_credit_limit():
    vendor = postpaid(credit_limit=10_000)
    support = operator("support")
    denied(
        operator_vendor_credit_limit,
        vendor_id=vendor.pk,
        actor=support,
        limit=Money(50_000, "USD"),
        reason="bigger line",
    )
    response = admin_client(support).post(
        f"/admin/vendors/vendor/{vendor.pk}/credit-limit/",
        {"credit_limit": "500.00", "reason": "bigger line"},
    )
    assert response.status_code == 403
    vendor.refresh_from_db()
    assert vendor.credit_limit == 10_000
    assert not AuditLog.objects.filter(action="vendor.credit_limit_change").exists()


def test_finance_can_change_a_credit_limit_and_it_is_audited():
    vendor = postpaid(credit_limit=10_000)
    finance = operator("finance")
    response = admin_client(finance).post(
        f"/admin/vendors/vendor/{vendor.pk}/credit-limit/",
        {"credit_limit": "500.00", "reason": "paid on time for a year"},
    )
    assert response.status_code == 302
    vendor.refresh_from_db()
    assert vendor.credit_limit == 50_000
    assert vendor_balance(vendor=vendor).credit_limit == Money(50_000, "USD")
    row = AuditLog.objects.get(action="vendor.credit_limit_change")
    assert row.actor == finance
    assert row.before == {"credit_limit": {"amount": "100.00", "currency": "USD"}}
    assert row.after == {"credit_limit": {"amount": "500.00", "currency": "USD"}}
    assert row.reason == "paid on time for a year"


def test_credit_limit_change_needs_a_reason():
    vendor = postpaid(credit_limit=10_000)
    with pytest.raises(DomainError) as exc:
        operator_vendor_credit_limit(
            vendor_id=vendor.pk, actor=operator("finance"), limit=Money(1, "USD"), reason=" "
        )
    assert exc.value.code == "validation_error"


# --- wallet adjustments ------------------------------------------------------------------


def test_finance_adjusts_a_wallet_through_the_ledger_with_before_and_after():
    vendor = prepaid()
    fund(vendor, 1000)
    finance = operator("finance")
    client = admin_client(finance)
    url = f"/admin/vendors/vendor/{vendor.pk}/adjust/"
    assert "Amount in USD" in client.get(url).content.decode()
    body = {"amount": "-2.50", "reason": "duplicate top-up credited"}
    asked = client.post(url, body)
    assert asked.status_code == 200 and "Debit " in asked.content.decode()
    assert vendor_balance(vendor=vendor).balance == Money(1000, "USD")  # not yet
    response = client.post(url, {**body, "_confirmed": "1"})
    assert response.status_code == 302
    assert vendor_balance(vendor=vendor).balance == Money(750, "USD")
    row = AuditLog.objects.get(action="vendor.wallet_adjust")
    assert row.before["balance"] == {"amount": "10.00", "currency": "USD"}
    assert row.after["balance"] == {"amount": "7.50", "currency": "USD"}
    assert row.actor == finance


def test_support_cannot_adjust_a_wallet():
    vendor = prepaid()
    denied(
        operator_vendor_adjust,
        vendor_id=vendor.pk,
        actor=operator("support"),
        amount=Money(100, "USD"),
        reason="goodwill",
    )
    assert vendor_balance(vendor=vendor).balance == Money(0, "USD")


def test_an_adjustment_that_would_overdraw_the_wallet_is_refused_on_the_form():
    vendor = prepaid()
    fund(vendor, 100)
    response = admin_client(operator("finance")).post(
        f"/admin/vendors/vendor/{vendor.pk}/adjust/",
        {"amount": "-5.00", "reason": "claw back", "_confirmed": "1"},
    )
    assert response.status_code == 200  # the form again, with the ledger's refusal
    body = response.content.decode()
    assert "Insufficient funds." in body  # the service's words, not its API code
    assert "(insufficient_funds)" not in body
    assert vendor_balance(vendor=vendor).balance == Money(100, "USD")
    assert not AuditLog.objects.filter(action="vendor.wallet_adjust").exists()


# --- vendor approval ---------------------------------------------------------------------


def test_only_admins_approve_vendors_and_the_vendor_is_emailed(django_capture_on_commit_callbacks):
    vendor = VendorFactory(status=Vendor.Status.PENDING)
    for role in ("support", "finance"):
        denied(operator_vendor_approve, vendor_id=vendor.pk, actor=operator(role), reason="ok")
    boss = operator("admin")
    with django_capture_on_commit_callbacks(execute=True):
        operator_vendor_approve(vendor_id=vendor.pk, actor=boss, reason="KYC done")
    vendor.refresh_from_db()
    assert vendor.status == Vendor.Status.ACTIVE
    assert any(vendor.contact_email in m.to for m in mail.outbox)
    row = AuditLog.objects.get(action="vendor.approve")
    assert row.actor == boss and row.before["status"] == "pending" and row.reason == "KYC done"


def test_suspending_needs_a_reason_and_is_audited(django_capture_on_commit_callbacks):
    vendor = VendorFactory()
    boss = operator("admin")
    with pytest.raises(DomainError):
        operator_vendor_suspend(vendor_id=vendor.pk, actor=boss, reason="")
    with django_capture_on_commit_callbacks(execute=True):
        operator_vendor_suspend(vendor_id=vendor.pk, actor=boss, reason="chargebacks")
    vendor.refresh_from_db()
    assert vendor.status == Vendor.Status.SUSPENDED
    assert AuditLog.objects.get(action="vendor.suspend").after["status"] == "suspended"


# --- refunds -----------------------------------------------------------------------------


# --- cancel and re-drive -----------------------------------------------------------------


# --- the screens ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "path", "allowed"),
    [
        ("support", "credit-limit", False),
        ("finance", "credit-limit", True),
        ("support", "adjust", False),
        ("finance", "adjust", True),
        ("support", "approve", False),
        ("finance", "approve", False),
        ("admin", "approve", True),
    ],
)
def test_vendor_action_pages_follow_the_roles(role, path, allowed):
    vendor = postpaid(credit_limit=1000, status=Vendor.Status.PENDING)
    response = admin_client(operator(role)).get(f"/admin/vendors/vendor/{vendor.pk}/{path}/")
    assert response.status_code == (200 if allowed else 403)


def test_view_only_roles_cannot_use_the_bulk_vendor_actions():
    vendor = VendorFactory(status=Vendor.Status.PENDING)
    for role in ("support", "finance"):
        admin_client(operator(role)).post(
            "/admin/vendors/vendor/",
            {"action": "approve", "_selected_action": [vendor.pk], "reason": "KYC checked"},
        )
        vendor.refresh_from_db()
        assert vendor.status == Vendor.Status.PENDING, role
    admin_client(operator("admin")).post(
        "/admin/vendors/vendor/",
        {"action": "approve", "_selected_action": [vendor.pk], "reason": "KYC checked"},
    )
    vendor.refresh_from_db()
    assert vendor.status == Vendor.Status.ACTIVE


def test_only_admins_issue_api_keys():
    assert (
        admin_client(operator("finance")).get("/admin/vendors/vendorapikey/add/").status_code == 403
    )
    assert (
        admin_client(operator("admin")).get("/admin/vendors/vendorapikey/add/").status_code == 200
    )


def test_vendor_and_reconciliation_pages_open_for_every_role():
    vendor = VendorFactory()
    pages = [
        "/admin/",
        "/admin/vendors/vendor/",
        f"/admin/vendors/vendor/{vendor.pk}/change/",
        "/admin/reconciliation/reconciliationrun/",
        "/admin/reconciliation/reconciliationfinding/",
        "/admin/ttelgo/auditlog/",
    ]
    for role in ("support", "finance", "admin"):
        client = admin_client(operator(role))
        for page in pages:
            assert client.get(page).status_code == 200, (role, page)


def test_vendor_page_offers_only_the_actions_its_state_allows():
    vendor = prepaid(status=Vendor.Status.ACTIVE)
    client = admin_client(operator("admin"))
    base = f"/admin/vendors/vendor/{vendor.pk}"
    body = client.get(f"{base}/change/").content.decode()
    assert f"{base}/suspend/" in body and f"{base}/adjust/" in body
    for path in ("approve", "reactivate", "credit-limit"):  # active, and prepaid
        assert f"{base}/{path}/" not in body, path
    assert client.get(f"{base}/approve/").status_code == 403


def test_action_forms_have_the_consoles_bordered_inputs():
    """Plain Django forms on the operator pages get unfold's input classes (they rendered
    as borderless boxes)."""
    vendor = prepaid()
    page = admin_client(operator("finance")).get(f"/admin/vendors/vendor/{vendor.pk}/adjust/")
    assert page.status_code == 200
    html = page.content.decode()
    for name in ("amount", "reason"):
        start = html.index(f'name="{name}"')
        tag = html[html.rindex("<", 0, start) : html.index(">", start)]
        assert "border-base-200" in tag, tag
