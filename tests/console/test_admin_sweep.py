"""Every console screen answers: each registered model's list (plain and searched), one
record's page and the add form, after real flows have filled the tables, for a superuser
and for each operator role. A screen added later is swept too."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from tests.console.factories import operator
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import customer_client, fund
from tests.orders.factories import vendor_client as order_vendor_client
from tests.orders.helpers import buy_b2b, buy_b2c, pay
from tests.webhooks.factories import endpoint_for
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def filled(bundles, django_capture_on_commit_callbacks, settings) -> None:
    """A paid customer order, a completed vendor order with its webhook delivery, ledger
    postings, holds and inbound events: something on most screens."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    customer = customer_client(UserFactory())
    pay(
        customer,
        django_capture_on_commit_callbacks,
        buy_b2c(customer, django_capture_on_commit_callbacks),
    )
    vendor: Vendor = VendorFactory()  # type: ignore[assignment]
    fund(vendor, 10_000)
    endpoint_for(vendor)
    response = buy_b2b(order_vendor_client(vendor), django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.content


def _screens() -> list[tuple[str, Any]]:
    return [
        (f"admin:{model._meta.app_label}_{model._meta.model_name}", model_admin)
        for model, model_admin in admin.site._registry.items()
    ]


def _get(client: Any, url: str, allowed: tuple[int, ...]) -> None:
    response = client.get(url)
    assert response.status_code in allowed, (url, response.status_code)


def _sweep(client: Any, user: Any, allowed: tuple[int, ...]) -> tuple[int, int]:
    """Returns how many screens were swept and how many of them had a record to open."""
    request = RequestFactory().get("/admin/")
    request.user = user
    swept = opened = 0
    for name, model_admin in _screens():
        try:
            changelist = reverse(f"{name}_changelist")
        except NoReverseMatch:
            continue  # registered without a list (none today)
        _get(client, changelist, allowed)
        if model_admin.search_fields:
            _get(client, f"{changelist}?q=1", allowed)
        # A record the screen lists (a queue such as fraud review shows only its own).
        record = model_admin.get_queryset(request).order_by("pk").first()
        if record is not None:
            _get(client, reverse(f"{name}_change", args=[record.pk]), allowed)
            _get(client, reverse(f"{name}_history", args=[record.pk]), allowed)
            opened += 1
        _get(client, reverse(f"{name}_add"), (*allowed, 403))
        swept += 1
    return swept, opened


def test_every_screen_answers_a_superuser(client, filled):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    swept, opened = _sweep(client, user, (200,))
    assert swept >= 20 and opened >= 15
    _get(client, reverse("admin:index"), (200,))


@pytest.mark.parametrize("role", ["support", "finance", "admin"])
def test_every_screen_answers_each_role_or_refuses_it(client, filled, role):
    # A role sees its screens or is refused (403, or the index for a hidden model); a
    # screen never fails.
    user = operator(role)
    client.force_login(user)
    swept, _ = _sweep(client, user, (200, 302, 403))
    assert swept >= 20
