"""The stock page in the operator console: it renders each bundle's level, levels (fixed
or computed), age profile, capital tied and sell-through; "Refill now" and "Release" go
through the audited operator services, and only for roles that edit the catalogue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from fulfilment.stock.models import StockBatch, StockEsim
from fulfilment.stock.operator import operator_stock_refill, operator_stock_release
from ledger.models import Transaction
from sandbox.models import SandboxBundleAssignment, SandboxOrder
from sandbox.provider import SandboxFaults, sandbox_faults_set
from tests.console.factories import operator
from tests.fulfilment.stock_helpers import stock_esims, stock_setting
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _prompt():
    sandbox_faults_set(SandboxFaults(processing_seconds=0))


def _admin_client(client, role: str = "admin"):
    client.force_login(operator(role))
    return client


def test_the_stock_page_shows_level_age_capital_and_sell_through(bundles, client):
    setting = stock_setting(floor=5, target=20)
    rows = stock_esims(4, cost=139)
    StockEsim.objects.filter(pk=rows[0].pk).update(purchased_at=timezone.now() - timedelta(days=40))
    stock_setting(floor=None, target=None, livemode=False)  # computed levels shown as such

    page = _admin_client(client).get(reverse("admin:fulfilment_stocksetting_changelist"))

    assert page.status_code == 200
    text = page.content.decode()
    assert "Capital tied" in text and "Sell-through" in text and "Age profile" in text
    assert "5.56 USD" in text  # 4 x 1.39 held
    assert "&lt; 7 d: 3, 7-30 d: 0, &gt; 30 d: 1" in text
    assert "0 (computed)" in text
    detail = client.get(reverse("admin:fulfilment_stocksetting_change", args=[setting.pk]))
    assert detail.status_code == 200 and "5.56 USD" in detail.content.decode()


def test_the_batch_and_esim_pages_render(bundles, client):
    stock_setting(floor=5, target=5)
    operator_stock_refill(setting=stock_setting(livemode=False, floor=1, target=1), actor=_op())
    c = _admin_client(client)
    assert c.get(reverse("admin:fulfilment_stockbatch_changelist")).status_code == 200
    assert c.get(reverse("admin:fulfilment_stockesim_changelist")).status_code == 200


def _op():
    return operator("admin")


@override_settings(STOCK_REFILL_SPACING_SECONDS=0)
def test_refill_now_from_the_page_buys_up_to_the_target_whatever_the_floor(
    bundles, client, django_capture_on_commit_callbacks
):
    setting = stock_setting(floor=2, target=6)
    stock_esims(3)  # above the floor: the beat would not refill
    c = _admin_client(client)
    with django_capture_on_commit_callbacks(execute=True):
        answer = c.post(
            reverse("admin:fulfilment_stocksetting_changelist"),
            {"action": "refill_now", "_selected_action": [setting.pk]},
            follow=True,
        )
    assert answer.status_code == 200
    assert "3 eSIMs to buy now" in answer.content.decode()
    assert list(SandboxOrder.objects.values_list("quantity", flat=True)) == [3]
    assert StockEsim.objects.filter(status="available").count() == 6
    audit = AuditLog.objects.get(action="fulfilment.stock_refill")
    assert audit.after["planned"] == 3


def test_release_gives_free_stock_back_and_books_the_refund(
    bundles, client, django_capture_on_commit_callbacks
):
    setting = stock_setting(floor=3, target=3)
    with django_capture_on_commit_callbacks(execute=True):
        operator_stock_refill(setting=setting, actor=_op())
    assert StockEsim.objects.filter(status="available").count() == 3
    c = _admin_client(client)
    with django_capture_on_commit_callbacks(execute=True):
        answer = c.post(
            reverse("admin:fulfilment_stocksetting_changelist"),
            {"action": "release", "_selected_action": [setting.pk]},
            follow=True,
        )
    assert "3 eSIMs given back" in answer.content.decode()
    assert set(StockEsim.objects.values_list("status", flat=True)) == {"revoked"}
    assert SandboxBundleAssignment.objects.filter(revoked=True).count() == 3
    assert Transaction.objects.filter(kind=Transaction.Kind.STOCK_REFUND_DUE).count() == 3
    assert StockEsim.objects.first().end_reason.startswith("released by ")
    assert AuditLog.objects.filter(action="fulfilment.stock_release").count() == 1


def test_release_of_some_takes_the_oldest(bundles):
    setting = stock_setting()
    rows = stock_esims(3)
    assert operator_stock_release(setting=setting, actor=_op(), count=2) == 2
    statuses = dict(StockEsim.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in rows] == ["revoking", "revoking", "available"]


def test_support_may_not_refill_or_release(bundles, client):
    setting = stock_setting()
    support = operator("support")
    with pytest.raises(DomainError):
        operator_stock_refill(setting=setting, actor=support)
    with pytest.raises(DomainError):
        operator_stock_release(setting=setting, actor=support)
    assert StockBatch.objects.count() == 0
