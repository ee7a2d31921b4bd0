"""A vendor's staff in the portal, in headless Chromium: sign up, verify the email (from
the email backend's outbox), set up two-factor (TOTP from the page's secret), wait for
approval, create a live API key and use it, set the brand; axe-core finds no critical
accessibility violation on the pages. With SCREENSHOTS=1 the pages are saved to
docs/screenshots/ for the README."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests
from django.core import mail
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.console.factories import operator
from tests.console.test_browser_esim_page import critical_violations
from tests.orders.factories import BUNDLE_CODE, fund
from vendors.models import VendorAPIKey, VendorBrand, VendorUser
from vendors.operator import operator_vendor_approve

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-portal-passphrase-9"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _shot(console: Any, name: str) -> None:
    if os.environ.get("SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        console.driver.save_screenshot(str(SHOTS / f"portal-{name}.png"))


def _type(console: Any, field_id: str, value: str) -> None:
    field = console.wait_css(f"#{field_id}")
    field.clear()
    field.send_keys(value)


def _submit(console: Any) -> None:
    console.driver.find_element(By.CSS_SELECTOR, "main form [type='submit']").click()


def test_a_vendor_signs_up_secures_the_account_and_creates_a_key(console, bundles):
    console.open("/portal/accounts/signup/")
    _type(console, "id_email", "owner@globetrotter.example")
    _type(console, "id_password1", PASSWORD)
    _type(console, "id_password2", PASSWORD)
    _type(console, "id_company_name", "Globetrotter Ltd")
    _type(console, "id_country", "GB")
    Select(console.driver.find_element(By.ID, "id_billing_mode")).select_by_value("prepaid")
    _submit(console)
    console.wait_text("Verify Your Email Address")
    link = re.search(r"https?://\S+/portal/accounts/confirm-email/\S+/", mail.outbox[-1].body)[0]
    console.driver.get(console.base_url + "/" + link.split("://", 1)[1].split("/", 1)[1])
    _submit(console)  # "Confirm"
    console.wait_css("#pending")
    assert critical_violations(console.driver) == []
    _shot(console, "pending")

    # Two-factor: the password again, then a code from the page's secret.
    console.driver.find_element(By.ID, "nav-mfa").click()
    console.wait_text("Authenticator App")
    console.open("/portal/accounts/2fa/totp/activate/")
    _type(console, "id_password", PASSWORD)
    _submit(console)
    secret = console.wait_css("#authenticator_secret").get_attribute("value")
    assert critical_violations(console.driver) == []
    _type(console, "id_code", pyotp.TOTP(secret).now())
    _submit(console)
    console.wait_text("Recovery Codes")
    member = VendorUser.objects.get(user__email="owner@globetrotter.example")
    assert member.user.authenticator_set.filter(type="totp").exists()

    operator_vendor_approve(vendor_id=member.vendor_id, actor=operator("admin"), reason="KYC ok")
    fund(member.vendor, 10_000)
    console.open("/portal/")
    console.wait_css("#active")
    console.open("/portal/keys/")
    _type(console, "id_name", "booking site")
    console.driver.find_element(By.ID, "create-key").click()
    raw = console.wait_css("#new-key-value").text
    assert critical_violations(console.driver) == []
    _shot(console, "api-keys")
    assert VendorAPIKey.objects.get(vendor=member.vendor).name == "booking site"
    order = requests.post(
        f"{console.base_url}/api/v1/vendor/orders",
        json={"bundle_code": BUNDLE_CODE, "quantity": 1},
        headers={"Authorization": f"Api-Key {raw}", "Idempotency-Key": "portal-1"},
        timeout=30,
    )
    assert order.status_code == 201, order.text

    console.open("/portal/brand/")
    _type(console, "id_display_name", "Globetrotter Mobile")
    _type(console, "id_support_email", "help@globetrotter.example")
    console.driver.find_element(By.ID, "save-brand").click()
    console.wait_text("Your brand is saved.")
    assert VendorBrand.objects.get(vendor=member.vendor).display_name == "Globetrotter Mobile"
    assert critical_violations(console.driver) == []
    _shot(console, "brand")
