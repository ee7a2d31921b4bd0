"""Auto top-up rules from the portal (API-only before): created for one eSIM or as the
default, edited, paused and resumed through the API's services; bad values are named
under their field; another vendor's rule or eSIM is not found; a viewer cannot change
them; a paused rule fires nothing."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from fulfilment.auto_topups.models import AutoTopupRule
from fulfilment.auto_topups.triggers import auto_topup_rule_for
from orders.models import Order
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, TOPUP_CODE, bundles_create, fund
from vendors.models import Vendor, VendorUser
from vendors.services import api_key_issue

pytestmark = pytest.mark.django_db


def _member(vendor, role="owner"):
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role=role)
    client = Client()
    client.force_login(member.user)
    return client


def _vendor_with_esim(capture):
    vendor = Vendor.objects.create(name="Roamly", status="active", currency="USD")
    fund(vendor, 20_000)
    _key, raw = api_key_issue(vendor=vendor, name="live")
    with capture(execute=True):
        placed = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}").post(
            "/api/v1/vendor/orders",
            json.dumps({"bundle_code": BUNDLE_CODE, "quantity": 1}),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="o1",
        )
    return vendor, Order.objects.get(pk=placed.json()["id"]).esims.get()


@pytest.fixture
def shop(django_capture_on_commit_callbacks):
    bundles_create()
    vendor, esim = _vendor_with_esim(django_capture_on_commit_callbacks)
    return vendor, esim, _member(vendor)


def test_a_rule_is_created_edited_paused_and_resumed(shop):
    vendor, esim, portal = shop
    url = reverse("portal:auto-topups")
    created = portal.post(
        url,
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20, "monthly_limit": 3},
    )
    assert created.status_code == 302
    rule = AutoTopupRule.objects.get(vendor=vendor)
    assert (rule.esim_id, rule.bundle_code, rule.below_percent) == (esim.pk, TOPUP_CODE, 20)
    edit = reverse("portal:auto-topup-edit", args=[rule.pk])
    assert portal.get(edit).status_code == 200
    changed = portal.post(
        edit, {"bundle_code": TOPUP_CODE, "below_percent": 10, "expiry_days": 2, "monthly_limit": 5}
    )
    assert changed.status_code == 302
    rule.refresh_from_db()
    assert (rule.below_percent, rule.expiry_days, rule.monthly_limit) == (10, 2, 5)
    portal.post(reverse("portal:auto-topup-action", args=[rule.pk, "pause"]))
    rule.refresh_from_db()
    assert rule.active is False
    assert "paused" in portal.get(url).content.decode()
    # A paused rule fires nothing: no rule covers the eSIM.
    assert auto_topup_rule_for(esim) is None
    portal.post(reverse("portal:auto-topup-action", args=[rule.pk, "resume"]))
    rule.refresh_from_db()
    assert rule.active is True and auto_topup_rule_for(esim) == rule
    # The default rule for every eSIM.
    default = portal.post(url, {"bundle_code": BUNDLE_CODE, "expiry_days": 3, "monthly_limit": 2})
    assert default.status_code == 302
    assert AutoTopupRule.objects.get(vendor=vendor, esim__isnull=True).expiry_days == 3


def test_bad_values_are_named_under_their_field_and_nothing_is_stored(shop):
    _vendor, _esim, portal = shop
    url = reverse("portal:auto-topups")
    no_trigger = portal.post(url, {"bundle_code": TOPUP_CODE, "monthly_limit": 3})
    assert no_trigger.status_code == 400
    assert no_trigger.context["form"].errors["below_percent"] == [
        "Set a data level, an expiry, or both."
    ]
    unknown = portal.post(
        url, {"bundle_code": "esim_NOPE", "below_percent": 20, "monthly_limit": 3}
    )
    assert unknown.status_code == 400 and "bundle_code" in unknown.context["form"].errors
    wrong_esim = portal.post(
        url,
        {
            "iccid": "8900000000000000001",
            "bundle_code": TOPUP_CODE,
            "below_percent": 20,
            "monthly_limit": 3,
        },
    )
    assert wrong_esim.status_code == 400 and "iccid" in wrong_esim.context["form"].errors
    assert AutoTopupRule.objects.count() == 0


def test_another_vendors_rule_is_not_found_and_a_viewer_changes_nothing(
    shop, django_capture_on_commit_callbacks
):
    vendor, esim, portal = shop
    other, other_esim = _vendor_with_esim(django_capture_on_commit_callbacks)
    theirs = AutoTopupRule.objects.create(
        vendor=other, esim=other_esim, bundle_code=TOPUP_CODE, below_percent=20
    )
    assert portal.get(reverse("portal:auto-topup-edit", args=[theirs.pk])).status_code == 404
    paused = portal.post(reverse("portal:auto-topup-action", args=[theirs.pk, "pause"]))
    assert paused.status_code == 404
    theirs.refresh_from_db()
    assert theirs.active is True
    # Their eSIM is not ours to set a rule on.
    refused = portal.post(
        reverse("portal:auto-topups"),
        {
            "iccid": other_esim.iccid,
            "bundle_code": TOPUP_CODE,
            "below_percent": 20,
            "monthly_limit": 3,
        },
    )
    assert refused.status_code == 400 and AutoTopupRule.objects.filter(vendor=vendor).count() == 0
    viewer = _member(vendor, role="viewer")
    assert "Create the rule" not in viewer.get(reverse("portal:auto-topups")).content.decode()
    denied = viewer.post(
        reverse("portal:auto-topups"),
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20, "monthly_limit": 3},
    )
    assert denied.status_code == 400 and "may not do this" in denied.content.decode()
    assert AutoTopupRule.objects.filter(vendor=vendor).count() == 0
