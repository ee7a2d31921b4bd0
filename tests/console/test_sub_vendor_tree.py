"""Operators see the reseller tree: a vendor's page lists every sub-vendor below it, by
level, with its markup and what it can spend; the list filters the tree's levels."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.subvendors import sub_vendor_create, wallet_transfer_create
from tests.console.factories import operator
from tests.orders.factories import fund
from ttelgo.money import Money
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


def test_a_vendors_page_shows_its_tree(client):
    top = Vendor.objects.create(name="Top Co", currency="USD", status="active")
    one = sub_vendor_create(parent=top, name="Level One Ltd", markup_bps=1_000)
    sub_vendor_create(parent=one, name="Level Two Ltd", markup_bps=250)
    fund(top, 10_000)
    wallet_transfer_create(parent=top, sub_vendor=one, amount=Money(4_321, "USD"))
    client.force_login(operator("support"))

    page = client.get(reverse("admin:vendors_vendor_change", args=[top.pk])).content.decode()
    assert "Level One Ltd" in page and "Level Two Ltd" in page
    assert "+1000 bps" in page and "43.21" in page
    subs = client.get(reverse("admin:vendors_vendor_changelist") + "?tree=sub").content.decode()
    assert "Level Two Ltd" in subs and "Top Co" not in subs.split("<tbody")[-1]
