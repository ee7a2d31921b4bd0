"""Email addresses the platform writes to are ones an email can be built for. Django's
email syntax lets any character above U+00A0 into the domain: `c@shop.example\u2028x`
was accepted (201 for a vendor order, 202 for a resend, 201 for a registration) and the
eSIM email then failed in the worker on every attempt (`UnicodeError: Invalid character
'\u2028'` while the `To` header was written), so the end customer never got the eSIM.
Found on a full stack; now each is a 400 on the field."""

from __future__ import annotations

import pytest
from django.core import mail
from rest_framework.test import APIClient

from fulfilment.models import Esim
from portal.forms import BrandForm
from portal.pages.orders import ResendForm
from portal.pages.team import InviteForm
from tests.factories import VendorFactory
from tests.orders.factories import bundles_create, fund, vendor_client
from tests.orders.helpers import buy_b2b, post
from ttelgo.validators import validate_sendable_email
from vendors.models import Vendor

pytestmark = pytest.mark.django_db

UNSENDABLE = [
    "c@shop.example\u2028x",
    "c@shop.example\u2029x",
    "c@shop.example\ue000",
    "c@\uffffshop.example",
    "c@shop.example\r\nBcc: x@evil.test",
]


def _vendor_api() -> APIClient:
    bundles_create()
    vendor: Vendor = VendorFactory(  # type: ignore[assignment]
        billing_mode=Vendor.BillingMode.PREPAID, currency="USD"
    )
    fund(vendor, 100_000)
    return vendor_client(vendor)


@pytest.mark.parametrize("address", UNSENDABLE)
def test_an_order_for_an_address_no_email_can_reach_is_refused(
    address, django_capture_on_commit_callbacks
):
    client = _vendor_api()
    refused = buy_b2b(client, django_capture_on_commit_callbacks, customer_email=address)
    assert refused.status_code == 400, refused.content
    assert list(refused.json()["error"]["details"]) == ["customer_email"]


@pytest.mark.parametrize("address", UNSENDABLE)
def test_a_resend_or_a_registration_to_such_an_address_is_refused(
    address, django_capture_on_commit_callbacks
):
    client = _vendor_api()
    bought = buy_b2b(client, django_capture_on_commit_callbacks)
    assert bought.status_code == 201, bought.content
    iccid = Esim.objects.get(order_id=bought.json()["id"]).iccid
    resend = post(client, f"/api/v1/vendor/esims/{iccid}/resend", {"email": address})
    assert resend.status_code == 400, resend.content
    assert list(resend.json()["error"]["details"]) == ["email"]
    register = post(
        APIClient(), "/api/v1/auth/register", {"email": address, "password": "Long-enough-pw-1"}
    )
    assert register.status_code == 400, register.content
    assert list(register.json()["error"]["details"]) == ["email"]


@pytest.mark.parametrize("address", UNSENDABLE)
def test_the_portal_forms_refuse_it_too(address):
    assert "email" in InviteForm({"email": address, "role": "developer"}).errors
    assert "email" in ResendForm({"email": address}).errors
    brand = BrandForm(
        {"display_name": "Shop", "primary_color": "#0f766e", "support_email": address}
    )
    assert "support_email" in brand.errors


def test_an_international_address_is_still_welcome_and_emailed(
    django_capture_on_commit_callbacks,
):
    validate_sendable_email("kunde@bücher.example")
    client = _vendor_api()
    bought = buy_b2b(
        client, django_capture_on_commit_callbacks, customer_email="kunde@bücher.example"
    )
    assert bought.status_code == 201, bought.content
    assert any("kunde@xn--bcher-kva.example" in m.message()["To"] for m in mail.outbox)
