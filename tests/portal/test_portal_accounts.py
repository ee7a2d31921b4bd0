"""Portal accounts as a new vendor meets them: the verification email is TTelGo's (not
allauth's "Hello from <host>!"), confirming it on another device lands on the portal's
login (not the operators' /admin/login/), and the signup's country is a picker with each
field's error under that field."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from catalogue.models import Country

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-portal-passphrase-7"


def _signup(client, **fields):
    body = {
        "email": "owner@globetrotter.example",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "company_name": "Globetrotter Ltd",
        "country": "GB",
        "billing_mode": "prepaid",
        **fields,
    }
    return client.post(reverse("account_signup"), body)


def test_the_verification_email_is_ttelgos_and_another_device_lands_on_the_portal_login():
    assert _signup(Client()).status_code == 302
    message = mail.outbox[-1]
    assert "Hello from" not in message.body and "example.com" not in message.body
    assert "TTelGo vendor portal" in message.body
    assert message.subject == "TTelGo: Confirm your email address for the vendor portal"
    link = re.search(r"https?://\S+/portal/accounts/confirm-email/\S+/", message.body)[0]
    other_device = Client()
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    confirmed = other_device.post(path)
    assert confirmed.status_code == 302
    assert confirmed["Location"].startswith(reverse("account_login"))
    assert "/admin/" not in confirmed["Location"]


def test_a_page_asking_for_login_sends_a_vendor_to_the_portal_login():
    answer = Client().get(reverse("portal:order-new"))
    assert answer["Location"].startswith(reverse("account_login"))


def test_the_country_is_a_picker_and_each_error_stands_under_its_field():
    Country.objects.create(iso="GB", name="United Kingdom")
    Country.objects.create(iso="JP", name="Japan")
    page = Client().get(reverse("account_signup")).content.decode()
    assert '<select name="country"' in page and ">United Kingdom</option>" in page
    refused = _signup(Client(), country="XX", company_name="")
    assert refused.status_code == 200
    form = refused.context["form"]
    assert form.errors["country"] == ["Choose a country from the list."]
    assert "company_name" in form.errors
    html = refused.content.decode()
    # The country's error comes after the country picker and before the next field.
    picker, error = html.index('name="country"'), html.index("Choose a country from the list.")
    assert picker < error < html.index('name="billing_mode"')
    assert _signup(Client(), country="jp").status_code == 302
