"""The portal's sub-vendors page: a parent sees its tree with balances and their orders;
a sub-vendor's staff see nothing of their parent's or a sibling's."""

from __future__ import annotations

import pytest
from django.test import Client

from billing.subvendors import sub_vendor_create, wallet_transfer_create
from tests.factories import UserFactory
from tests.orders.factories import fund
from ttelgo.money import Money
from vendors.models import Vendor, VendorUser

pytestmark = pytest.mark.django_db


def _portal(vendor: Vendor) -> Client:
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory.create(), role="viewer")
    client = Client()
    client.force_login(member.user)
    return client


def test_a_parent_sees_its_tree_with_balances_and_a_sub_vendor_only_its_own():
    top = Vendor.objects.create(name="Top", status="active", currency="USD")
    one = sub_vendor_create(parent=top, name="Reseller One", markup_bps=1_000)
    sibling = sub_vendor_create(parent=top, name="Reseller Sibling")
    two = sub_vendor_create(parent=one, name="Reseller Two")
    fund(top, 5_000)
    wallet_transfer_create(parent=top, sub_vendor=one, amount=Money(1_234, "USD"))

    page = _portal(top).get("/portal/sub-vendors/")
    assert page.status_code == 200
    body = page.content.decode()
    for name in ("Reseller One", "Reseller Sibling", "Reseller Two", "12.34"):
        assert name in body
    mine = _portal(one).get("/portal/sub-vendors/").content.decode()
    assert "Reseller Two" in mine
    assert "Reseller Sibling" not in mine and f"sub-vendor-{top.pk}" not in mine
    assert f"sub-vendor-{sibling.pk}" not in mine and two.pk
