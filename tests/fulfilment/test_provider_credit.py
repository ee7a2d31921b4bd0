"""Airalo pays refunds back in credit after a manual review: the refund is a receivable
until a credit is matched to it (not read from usage, as eSIM Go's are); reconciliation
flags one still unmatched after PROVIDER_CREDIT_OVERDUE_DAYS."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from fulfilment import provider_refunds
from fulfilment.models import Esim, ProviderRefund
from fulfilment.provider_refunds import (
    provider_credit_match,
    provider_refund_expect,
    provider_refunds_collect,
)
from ledger.models import Purpose
from ledger.selectors import account_balance
from ledger.services import platform_account
from orders.models import Order
from reconciliation.services import check_refunds
from tests.console.factories import operator
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, fund, vendor_client
from tests.orders.helpers import assert_ledger_sound, buy_b2b
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog
from ttelgo.money import Money
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def airalo_esims(bundles, django_capture_on_commit_callbacks) -> list[Esim]:
    """Three eSIMs of one order Airalo delivered."""
    vendor: Vendor = VendorFactory(currency="USD")  # type: ignore[assignment]
    fund(vendor, 100_000)
    answer = buy_b2b(vendor_client(vendor), django_capture_on_commit_callbacks, quantity=3)
    assert answer.status_code == 201, answer.content
    Order.objects.filter(pk=answer.json()["id"]).update(provider="airalo")
    return list(Esim.objects.filter(order_id=answer.json()["id"]).order_by("id"))


def owed(esims: list[Esim], *amounts: int) -> list[ProviderRefund]:
    for esim, amount in zip(esims, amounts, strict=False):
        provider_refund_expect(
            order=esim.order, iccid=esim.iccid, bundle_code=BUNDLE_CODE, cost=Money(amount, "USD")
        )
    return list(ProviderRefund.objects.order_by("id"))


def balance(purpose: str) -> int:
    return account_balance(account=platform_account(purpose, "USD")).amount


def receivable() -> int:
    return balance(Purpose.PROVIDER_REFUND_RECEIVABLE)


def test_an_airalo_refund_waits_for_its_credit_not_for_usage(airalo_esims):
    (refund,) = owed(airalo_esims, 150)
    assert refund.provider == "airalo" and receivable() == 150
    with mock.patch.object(provider_refunds, "get_provider") as get_provider:
        assert provider_refunds_collect() == []
    get_provider.assert_not_called()  # Airalo's usage says nothing about its credit
    refund.refresh_from_db()
    assert refund.status == ProviderRefund.Status.PENDING


def test_a_credit_clears_the_receivable_once(airalo_esims):
    first, second, third = owed(airalo_esims, 150, 150, 90)
    payable_before = balance(Purpose.PROVIDER_PAYABLE)
    # One credit for the two oldest (Airalo pays back what it reviewed together).
    settled = provider_credit_match(
        provider="airalo", amount=Money(300, "USD"), reference="airalo-refund-1"
    )
    assert settled == [first.pk, second.pk]
    # The same credit again (a double click, a retried job): nothing more.
    assert provider_credit_match(
        provider="airalo", amount=Money(300, "USD"), reference="airalo-refund-1"
    ) == [first.pk, second.pk]
    assert receivable() == 90
    payable_after = balance(Purpose.PROVIDER_PAYABLE)
    assert payable_before - payable_after == 300  # what we owe Airalo fell by the credit
    # An exact amount takes the oldest refund of that amount.
    assert provider_credit_match(
        provider="airalo", amount=Money(90, "USD"), reference="airalo-refund-2"
    ) == [third.pk]
    assert receivable() == 0
    rows = ProviderRefund.objects.order_by("id").values_list("status", "credit_reference")
    assert list(rows) == [
        ("received", "airalo-refund-1"),
        ("received", "airalo-refund-1"),
        ("received", "airalo-refund-2"),
    ]
    assert_ledger_sound()


def test_a_credit_that_matches_nothing_is_refused(airalo_esims):
    owed(airalo_esims, 150, 150)
    with pytest.raises(DomainError) as refused:
        provider_credit_match(provider="airalo", amount=Money(200, "USD"), reference="x")
    assert refused.value.code == "invalid_state"
    assert not ProviderRefund.objects.filter(status="received").exists()
    assert receivable() == 300


def test_finance_matches_a_credit_in_the_console_audited(airalo_esims):
    (refund,) = owed(airalo_esims, 150)
    url = f"/admin/fulfilment/providerrefund/{refund.pk}/credit/"
    support = Client()
    support.force_login(operator("support"))
    assert support.post(url, {"reference": "cr-9"}).status_code in (302, 403)
    refund.refresh_from_db()
    assert refund.status == ProviderRefund.Status.PENDING
    finance = Client()
    finance.force_login(operator("finance"))
    assert finance.get(url).status_code == 200
    answer = finance.post(url, {"reference": "cr-9"})
    assert answer.status_code == 302, answer.content[:2000]
    refund.refresh_from_db()
    assert (refund.status, refund.credit_reference) == ("received", "cr-9")
    row = AuditLog.objects.get(action="fulfilment.provider_credit_match")
    assert row.after["credit_reference"] == "cr-9" and receivable() == 0


def test_reconciliation_flags_a_credit_not_arrived_after_n_days(airalo_esims, settings):
    settings.PROVIDER_CREDIT_OVERDUE_DAYS = 14
    late, _recent, paid = owed(airalo_esims, 150, 120, 90)
    ProviderRefund.objects.filter(pk__in=[late.pk, paid.pk]).update(
        created_at=timezone.now() - timedelta(days=15)
    )
    provider_credit_match(provider="airalo", amount=Money(90, "USD"), reference="cr-1")
    found = [
        (f["code"], f["object_id"])
        for f in check_refunds(since=timezone.now() - timedelta(days=1))
        if f["code"] == "provider_credit_overdue"
    ]
    assert found == [("provider_credit_overdue", str(late.pk))]
