"""Tax details typed in by their owners: a customer's country and VAT number through
`PATCH /api/v1/me`, a vendor's on the portal's Tax details page. The VAT number is
checked with the same validator the VAT rules trust (VIES; the sandbox's fake here, or
VIES itself answered by `responses`): one it does not know is refused under its field,
one it cannot check now is recorded unconfirmed. The sale's tax follows them."""

from __future__ import annotations

import pytest
import responses
from django.test import Client
from django.urls import reverse

from tests.core.money_race_setups import bundles_ensure, customer_client, post_keyed
from tests.factories import UserFactory, VendorFactory
from tests.payments.factories import vendor_client
from ttelgo.models import AuditLog
from ttelgo.tax import Treatment
from vendors.models import Vendor, VendorUser

pytestmark = pytest.mark.django_db
VIES = "https://vies.example/check-vat-number"


@pytest.fixture(autouse=True)
def _seller(settings):
    settings.PLATFORM_COUNTRY = "IE"
    settings.PLATFORM_VAT_NUMBER = "IE6388047V"
    settings.PLATFORM_LEGAL_NAME = "TTelGo Ltd"
    settings.VAT_VALIDATOR_CLASS = "sandbox.vat.SandboxVatValidator"
    settings.VIES_URL = VIES


# --- customers: the API -----------------------------------------------------------------


def test_a_customer_records_a_validated_vat_number_and_is_reverse_charged(
    django_capture_on_commit_callbacks,
):
    bundles_ensure()
    user = UserFactory(country="")
    client = customer_client(user)
    response = client.patch(
        "/api/v1/me", {"country": "nl", "vat_number": "859048436B01"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["country"] == "NL"
    assert body["vat_number"] == "NL859048436B01" and body["vat_number_valid"] is True
    assert client.get("/api/v1/me").json()["vat_number_valid"] is True
    with django_capture_on_commit_callbacks(execute=True):
        order = post_keyed(
            client, "/api/v1/orders", {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": 1}
        ).json()
    assert order["tax"]["treatment"] == Treatment.REVERSE_CHARGE
    assert order["tax"]["buyer_vat_number"] == "NL859048436B01"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"country": "NL", "vat_number": "NL000000000B00"}, "vat_number"),  # VIES: unknown
        ({"country": "NL", "vat_number": "NL-??"}, "vat_number"),  # not a VAT number's shape
        ({"country": "US", "vat_number": "12345678"}, "vat_number"),  # not an EU country
        ({"country": "Netherlands"}, "country"),
    ],
)
def test_a_vat_number_that_does_not_validate_is_refused_under_its_field(body, field):
    user = UserFactory(country="DE")
    response = customer_client(user).patch("/api/v1/me", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    user.refresh_from_db()
    assert (user.country, user.vat_number) == ("DE", "")


@responses.activate
def test_vies_down_records_the_number_unconfirmed(settings):
    settings.VAT_VALIDATOR_CLASS = "ttelgo.tax.ViesValidator"
    responses.post(VIES, status=503)
    user = UserFactory(country="")
    response = customer_client(user).patch(
        "/api/v1/me", {"country": "FR", "vat_number": "FR40303265045"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["vat_number_valid"] is False
    user.refresh_from_db()
    assert (user.country, user.vat_number, user.vat_number_valid) == (
        "FR",
        "FR40303265045",
        False,
    )
    assert len(responses.calls) == 1


def test_a_client_that_sends_only_the_language_sees_what_it_saw():
    user = UserFactory(country="DE")
    client = customer_client(user)
    response = client.patch("/api/v1/me", {"language": "de"}, format="json")
    assert response.status_code == 200
    assert response.json()["language"] == "de"
    user.refresh_from_db()
    assert user.country == "DE"
    assert client.patch("/api/v1/me", {}, format="json").status_code == 400


# --- vendors: the portal ----------------------------------------------------------------


def _member(role, vendor=None):
    vendor = vendor or VendorFactory(status="active", country="DE")
    user = UserFactory()
    member = VendorUser.objects.create(vendor=vendor, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client, member


def test_a_vendor_enters_its_tax_details_and_its_purchases_are_reverse_charged(
    django_capture_on_commit_callbacks,
):
    bundles_ensure()
    vendor = VendorFactory(
        status="active",
        country="DE",
        billing_mode=Vendor.BillingMode.POSTPAID,
        credit_limit=1_000_000,
    )
    client, _member_row = _member("finance", vendor)
    assert client.get(reverse("portal:tax-details")).status_code == 200
    saved = client.post(
        reverse("portal:tax-details"), {"country": "NL", "vat_number": "nl 8590.48436-B01"}
    )
    assert saved.status_code == 302
    vendor.refresh_from_db()
    assert (vendor.country, vendor.vat_number, vendor.vat_number_valid) == (
        "NL",
        "NL859048436B01",
        True,
    )
    assert AuditLog.objects.filter(action="vendor.tax_details").exists()
    page = client.get(reverse("portal:billing")).content.decode()
    assert "VAT number NL859048436B01" in page
    with django_capture_on_commit_callbacks(execute=True):
        order = post_keyed(
            vendor_client(vendor),
            "/api/v1/vendor/orders",
            {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": 1},
        ).json()
    assert order["tax"]["treatment"] == Treatment.REVERSE_CHARGE


def test_the_portal_shows_a_refused_vat_number_under_its_field_and_writes_nothing():
    client, member = _member("owner")
    bad = client.post(
        reverse("portal:tax-details"), {"country": "NL", "vat_number": "NL000000000B00"}
    )
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "does not know this number in NL" in html
    # Under the VAT number's field, not above the form.
    assert html.index('name="vat_number"') < html.index("does not know this number")
    member.vendor.refresh_from_db()
    assert (member.vendor.country, member.vendor.vat_number) == ("DE", "")


@pytest.mark.parametrize(("role", "may"), [("owner", True), ("finance", True), ("viewer", False)])
def test_only_members_who_manage_billing_change_the_tax_details(role, may):
    client, member = _member(role)
    response = client.post(
        reverse("portal:tax-details"), {"country": "FR", "vat_number": "FR40303265045"}
    )
    assert (response.status_code == 302) is may
    member.vendor.refresh_from_db()
    assert (member.vendor.country == "FR") is may
