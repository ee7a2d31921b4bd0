"""Self-service signup and the `vendor_create` management command."""

import io

import pytest
from django.core.management import CommandError, call_command

from tests.vendors.factories import key_client
from vendors.models import Vendor

SIGNUP = "/api/v1/vendors/signup"
BODY = {
    "company_name": "Nomad Data",
    "contact_email": "hello@nomad.example",
    "country": "DE",
    "billing_mode": "postpaid",
}


def test_signup_refuses_privileged_fields_and_creates_nothing(api_client, db):
    hostile = {
        **BODY,
        "status": "active",
        "credit_limit": "100000.00",
        "balance": {"amount": "5000.00", "currency": "USD"},
        "discount_bps": 9000,
        "vendor": 1,
        "tier": "platinum",
    }
    response = api_client.post(SIGNUP, hostile, format="json")
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert set(details) == {"status", "credit_limit", "balance", "discount_bps", "vendor", "tier"}
    assert not Vendor.objects.exists()
    response = api_client.post(SIGNUP, BODY, format="json")
    assert response.json() == {"id": response.json()["id"], "status": "pending"}
    vendor = Vendor.objects.get(pk=response.json()["id"])
    assert (vendor.status, vendor.credit_limit, vendor.discount_bps, vendor.tier) == (
        "pending",
        0,
        0,
        "standard",
    )
    assert (vendor.name, vendor.billing_mode, vendor.country) == ("Nomad Data", "postpaid", "DE")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("billing_mode", "credit"),
        ("country", "Germany"),
        ("contact_email", "nope"),
        ("company_name", ""),
    ],
)
def test_signup_validation_errors_are_precise(api_client, db, field, value):
    response = api_client.post(SIGNUP, {**BODY, field: value}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]
    assert not Vendor.objects.exists()


def test_signup_is_throttled(api_client, db, settings):
    from tests.vendors.test_throttling import _rates

    with _rates(signup="2/hour"):
        codes = [
            api_client.post(
                SIGNUP, {**BODY, "contact_email": f"ops{i}@example.com"}, format="json"
            ).status_code
            for i in range(3)
        ]
    assert codes == [201, 201, 429]


def test_vendor_create_prints_a_working_key_on_the_last_line(db):
    out = io.StringIO()
    call_command(
        "vendor_create",
        "--name",
        "Acme Roaming",
        "--billing",
        "postpaid",
        "--credit-limit",
        "1000.00",
        "--approve",
        stdout=out,
    )
    key = out.getvalue().strip().splitlines()[-1]
    vendor = Vendor.objects.get(name="Acme Roaming")
    assert (vendor.status, vendor.credit_limit) == ("active", 100_000)
    balance = key_client(key).get("/api/v1/vendor/balance")
    assert balance.status_code == 200
    assert balance.json()["credit_limit"] == {"amount": "1000.00", "currency": "USD"}


def test_vendor_create_without_approve_leaves_it_pending(db):
    out = io.StringIO()
    call_command("vendor_create", "--name", "Later", "--billing", "prepaid", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert Vendor.objects.get(name="Later").status == "pending"
    assert key_client(key).get("/api/v1/vendor/balance").json()["error"]["code"] == (
        "vendor_not_active"
    )


def test_vendor_create_refuses_bad_amounts(db):
    with pytest.raises(CommandError):
        call_command(
            "vendor_create",
            "--name",
            "X",
            "--billing",
            "postpaid",
            "--credit-limit",
            "1.001",
            stdout=io.StringIO(),
        )
    assert not Vendor.objects.exists()


def test_a_second_signup_with_the_same_email_is_refused_while_the_first_waits(api_client, db):
    assert api_client.post(SIGNUP, BODY, format="json").status_code == 201
    again = {**BODY, "contact_email": BODY["contact_email"].upper(), "company_name": "Other"}
    response = api_client.post(SIGNUP, again, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict" and "contact_email" in error["details"]
    assert Vendor.objects.count() == 1
