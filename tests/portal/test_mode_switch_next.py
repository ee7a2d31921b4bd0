"""The live/test switch goes back to the page it was pressed on, and only to a path on
this site: anything else in `next` falls back to the overview, never a 500."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory, VendorFactory
from vendors.models import VendorUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal():
    vendor = VendorFactory(status="active")
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="owner")
    client = Client()
    client.force_login(member.user)
    return client


@pytest.mark.parametrize(
    "target",
    [
        "anyword",
        "portal:orders",
        "overview",
        "https://evil.test/portal/",
        "//evil.test/portal/",
        "/\\evil.test",
        "javascript:alert(1)",
        "",
    ],
)
def test_a_next_that_is_not_a_local_path_falls_back_to_the_overview(portal, target):
    answer = portal.post(reverse("portal:mode"), {"mode": "test", "next": target})
    assert answer.status_code == 302
    assert answer["Location"] == reverse("portal:overview")


def test_a_local_path_in_next_is_honoured(portal):
    answer = portal.post(reverse("portal:mode"), {"mode": "test", "next": "/portal/orders?page=2"})
    assert answer.status_code == 302 and answer["Location"] == "/portal/orders?page=2"
