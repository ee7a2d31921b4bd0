"""Money in the console reads in major units: after the real flows, no list, record page
or form of any registered screen shows an amount of minor units as a bare integer (199
for 1.99) in a cell or an input. A screen or money field added later is swept too."""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import models
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from billing.services import vendor_adjustment
from orders.fraud.models import FraudRule
from tests.console.test_admin_sweep import filled  # noqa: F401 (the fixture)
from tests.factories import UserFactory
from ttelgo.money import Money
from ttelgo.roles import operated_apps
from vendors.models import Vendor

pytestmark = pytest.mark.django_db

# Integer money columns whose help text does not say "minor units".
MONEY_WITHOUT_HELP = {
    ("catalogue", "bundlepricehistory"): {"cost_amount", "retail_amount"},
    ("ledger", "account"): {"balance", "held", "floor", "ceiling"},
    ("ledger", "entry"): {"balance_after"},
    ("ledger", "hold"): {"amount", "captured_amount"},
    ("billing", "invoice"): {"opening_balance", "closing_balance", "paid_amount"},
    ("orders", "orderitem"): {"unit_price", "unit_cost"},
}


def _money_fields(model: type[models.Model]) -> set[str]:
    meta = model._meta
    named = MONEY_WITHOUT_HELP.get((meta.app_label, meta.model_name or ""), set())
    return {
        f.name
        for f in meta.concrete_fields
        if isinstance(f, models.IntegerField)
        and not f.is_relation
        and ("minor units" in str(f.help_text) or f.name in named)
    }


def _values() -> tuple[set[int], set[int]]:
    """Every money amount stored (as minor units), and every other integer stored."""
    money: set[int] = set()
    other: set[int] = set()
    for label in operated_apps():
        for model in apps.get_app_config(label).get_models():
            if not model._meta.managed:
                continue  # permission holders without a table
            fields = _money_fields(model)
            ints = [
                f.name
                for f in model._meta.concrete_fields
                if isinstance(f, models.IntegerField) and not f.is_relation
            ]
            for row in model._default_manager.values(*ints) if ints else []:
                for name, value in row.items():
                    if isinstance(value, int):
                        (money if name in fields else other).add(abs(value))
    return money, other


def _bare(html: str, value: int) -> bool:
    """A cell holding just the number, or a text/number input prefilled with it."""
    cell = rf">\s*-?{value}\s*<"
    field = rf'<input(?=[^>]*\bvalue="-?{value}")(?=[^>]*type="(?:text|number)")[^>]*>'
    return bool(re.search(cell, html) or re.search(field, html))


def test_no_screen_shows_minor_units(client, filled):  # noqa: F811 (the fixture)
    # A few more amounts the flows do not leave: a credit line, a threshold, an amount rule.
    vendor = Vendor.objects.filter(billing_mode="prepaid").first()
    assert vendor is not None
    Vendor.objects.filter(pk=vendor.pk).update(low_balance_threshold=2_345)
    vendor_adjustment(vendor=vendor, amount=Money(1_234, "USD"), reason="goodwill", actor=None)
    FraudRule.objects.create(
        name="Big first order", kind="first_order_amount", limit=12_345, currency="USD"
    )
    money, other = _values()
    # Amounts that cannot be told from other numbers on a page are not checked: below
    # 100, round hundreds, or equal to a count, a status code or an id stored elsewhere.
    checked = {v for v in money if v >= 100 and v % 100 and v not in other}
    assert {2_345, 1_234, 12_345} <= checked and len(checked) >= 8

    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    request = RequestFactory().get("/admin/")
    request.user = user
    offenders: list[str] = []
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        try:
            urls = [reverse(f"{name}_changelist")]
        except NoReverseMatch:
            continue
        urls += [
            reverse(f"{name}_change", args=[pk])
            for pk in model_admin.get_queryset(request)
            .order_by("pk")
            .values_list("pk", flat=True)[:5]
        ]
        for url in urls:
            html = client.get(url).content.decode()
            offenders += [f"{url}: {v}" for v in sorted(checked) if _bare(html, v)]
    assert offenders == [], "\n".join(offenders)


def test_amounts_are_entered_in_major_units(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    vendor = Vendor.objects.create(name="Units", currency="USD", status="active")
    url = reverse("admin:vendors_vendor_change", args=[vendor.pk])
    page = client.get(url).content.decode()
    assert "Low-balance alert below (USD)" in page
    response = client.post(
        url,
        {
            "name": "Units",
            "low_balance_threshold": "12.50",
            "contact_email": "u@example.com",
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
            "brand-TOTAL_FORMS": "0",
            "brand-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    vendor.refresh_from_db()
    assert vendor.low_balance_threshold == 1_250
    assert 'value="12.50"' in client.get(url).content.decode()

    add = reverse("admin:orders_fraudrule_add")
    rule = {"name": "Big", "kind": "first_order_amount", "limit": "125.00", "currency": "USD"}
    assert client.post(add, {**rule, "score": "50", "enabled": "on"}).status_code == 302
    saved = FraudRule.objects.get(name="Big")
    assert saved.limit == 12_500
    page = client.get(reverse("admin:orders_fraudrule_change", args=[saved.pk])).content.decode()
    assert 'value="125.00"' in page
    counted = {"name": "Many", "kind": "quantity", "limit": "2.5", "score": "50"}
    refused = client.post(add, counted)
    assert refused.status_code == 200 and "A count is a whole number." in refused.content.decode()
