"""A vendor's staff in the portal, in headless Chromium, along the whole path: sign up,
verify the email (from the email backend's outbox), set up two-factor (TOTP from the
page's secret), wait for the operator's approval, create a live and a test key, place a
test order with curl and watch it complete in the portal with its QR code, register a
webhook endpoint on a local receiver, send a test event, rotate the secret and verify
both signatures during the overlap, simulate 80 % usage and receive
`esim.usage_threshold`, download the statement. axe-core finds no critical accessibility
violation on the pages, at desktop and phone widths. With SCREENSHOTS=1 the pages are
saved to docs/screenshots/ for the README."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests
from django.core import mail
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from standardwebhooks import Webhook

from portal.public_ids import order_public_id
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


def test_a_vendor_goes_from_signup_to_test_mode_webhooks_simulations_and_the_statement(
    console, bundles, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True  # the webhook receiver is on loopback
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
    Select(console.driver.find_element(By.ID, "id_mode")).select_by_value("live")
    console.driver.find_element(By.ID, "create-key").click()
    raw = console.wait_css("#new-key-value").text
    assert raw.startswith("ttg_live_")
    assert critical_violations(console.driver) == []
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

    # Test mode, the rest of the path.
    _test_mode_path(console, member.vendor, _test_key_and_test_mode(console, shoot=True))


class Receiver:
    """A webhook receiver on loopback: keeps each delivery's headers and body."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def of_type(self, type_: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b in self.received if json.loads(b)["type"] == type_]


def _wait(predicate: Any, what: str, seconds: float = 20) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _curl_order(base_url: str, key: str) -> dict[str, Any]:
    body = json.dumps({"bundle_code": BUNDLE_CODE, "quantity": 1, "customer_reference": "TEST-1"})
    if shutil.which("curl"):
        out = subprocess.run(
            ["curl", "-sS", "-X", "POST", f"{base_url}/api/v1/vendor/orders",
             "-H", f"Authorization: Api-Key {key}", "-H", "Idempotency-Key: curl-1",
             "-H", "Content-Type: application/json", "-d", body],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return json.loads(out.stdout)  # type: ignore[no-any-return]
    answer = requests.post(
        f"{base_url}/api/v1/vendor/orders",
        data=body,
        headers={"Authorization": f"Api-Key {key}", "Idempotency-Key": "curl-1",
                 "Content-Type": "application/json"},
        timeout=60,
    )  # fmt: skip
    return answer.json()  # type: ignore[no-any-return]


def _phone_check(console: Any) -> None:
    """The page at a phone's width: nothing wider than the screen, no critical violation."""
    console.driver.set_window_size(390, 844)
    try:
        overflow = console.driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 1, f"{console.driver.current_url} is {overflow}px wider than a phone"
        assert critical_violations(console.driver) == []
    finally:
        console.driver.set_window_size(1400, 1000)


def _test_key_and_test_mode(console: Any, *, shoot: bool = False) -> str:
    """Create a test key on the keys page, then switch the portal to test mode."""
    console.open("/portal/keys/")
    _type(console, "id_name", "integration")
    Select(console.driver.find_element(By.ID, "id_mode")).select_by_value("test")
    console.driver.find_element(By.ID, "create-key").click()
    key = console.wait_css("#new-key-value").text
    assert key.startswith("ttg_test_")
    if shoot:
        _shot(console, "api-keys")  # the live key and the test key
    console.driver.find_element(By.ID, "mode-switch").click()
    console.wait_css("#test-mode-bar")
    console.open("/portal/")
    console.wait_css("#test-overview")
    assert critical_violations(console.driver) == []
    return key


def _test_mode_path(console: Any, vendor: Any, key: str) -> None:
    """In test mode: a webhook endpoint on a local receiver and a test event, a test order
    placed with curl appearing completed in the open orders page, its QR code, a secret
    rotation verified with both secrets, 80 % usage simulated and the statement."""
    receiver = Receiver()
    # A webhook endpoint on the local receiver, and a test event.
    console.open("/portal/webhooks/")
    _type(console, "id_url", receiver.url)
    console.driver.find_element(By.ID, "id_events_0").click()  # every event
    console.driver.find_element(By.ID, "add-endpoint").click()
    first_secret = console.wait_css("#secret-value").text
    console.driver.find_element(By.CSS_SELECTOR, "button[aria-label^='Send a test event']").click()
    console.wait_text("A webhook.test event is on its way.")
    _wait(lambda: receiver.of_type("webhook.test"), "no test event arrived")
    headers, body = receiver.of_type("webhook.test")[-1]
    assert Webhook(first_secret).verify(body, headers)["livemode"] is False

    # The orders page is open when the order is placed with curl: it appears, completed.
    console.open("/portal/orders/")
    order = _curl_order(console.base_url, key)
    assert order["livemode"] is False, order
    console.wait_css(f"#order-{order_public_id(order['id'])} .status-completed")
    assert critical_violations(console.driver) == []
    _shot(console, "orders")
    _phone_check(console)
    # The list refreshes itself while it is open: a link found may be replaced before the
    # click, so look it up again until the click lands.
    console.click_link_exactly(order_public_id(order["id"]))
    console.wait_css(".esim .qr svg")
    iccid = console.driver.find_element(By.CSS_SELECTOR, ".esim").get_attribute("id")[5:]
    assert critical_violations(console.driver) == []
    _phone_check(console)
    _wait(lambda: receiver.of_type("order.completed"), "no order.completed arrived")

    # Rotate the secret: during the overlap each delivery verifies with either secret.
    console.open("/portal/webhooks/")
    console.driver.find_element(By.CSS_SELECTOR, "button[aria-label^='Rotate the secret']").click()
    new_secret = console.wait_css("#secret-value").text
    assert new_secret != first_secret
    console.driver.find_element(By.CSS_SELECTOR, "button[aria-label^='Send a test event']").click()
    _wait(lambda: len(receiver.of_type("webhook.test")) == 2, "no second test event")
    headers, body = receiver.of_type("webhook.test")[-1]
    assert len(headers["webhook-signature"].split()) == 2
    assert Webhook(first_secret).verify(body, headers) == Webhook(new_secret).verify(body, headers)
    assert critical_violations(console.driver) == []
    _shot(console, "webhooks")
    _phone_check(console)

    # Simulate 80 % usage on the test eSIM: esim.usage_threshold arrives (50 and 80).
    console.open(f"/portal/orders/{order_public_id(order['id'])}")
    console.wait_css(f"#simulate-usage-80-{iccid}").click()
    console.wait_text("Simulated usage of 80 %")
    _wait(lambda: len(receiver.of_type("esim.usage_threshold")) == 2, "no usage events")
    levels = sorted(
        json.loads(b)["data"]["percent"] for _h, b in receiver.of_type("esim.usage_threshold")
    )
    assert levels == [50, 80]
    headers, body = receiver.of_type("esim.usage_threshold")[-1]
    assert Webhook(new_secret).verify(body, headers)["data"]["iccid"] == iccid
    _shot(console, "simulate")
    console.open("/portal/")
    console.wait_css("#orders-chart rect[height='100']")  # today's bar, the tallest
    _shot(console, "test-overview")

    # The statement, downloaded with the browser's session.
    console.open("/portal/billing/")
    href = console.wait_css("#statement-csv").get_attribute("href")
    assert critical_violations(console.driver) == []
    _shot(console, "billing")
    _phone_check(console)
    session = requests.Session()
    for cookie in console.driver.get_cookies():
        session.cookies.set(cookie["name"], cookie["value"])
    statement = session.get(href, timeout=30)
    assert statement.headers["Content-Disposition"] == 'attachment; filename="statement-test.csv"'
    lines = list(csv.DictReader(io.StringIO(statement.text)))
    assert [line["order_id"] for line in lines if line["type"] == "order_charge"] == [
        str(order["id"])
    ]
    assert VendorAPIKey.objects.filter(vendor__live_vendor=vendor).count() == 1


def test_test_mode_works_for_a_vendor_still_waiting_for_approval(console, bundles):
    """Test mode from the first minute: a pending vendor's test key places a test order
    that completes, seen in the portal's orders page."""
    from allauth.account.models import EmailAddress

    from tests.factories import UserFactory, VendorFactory

    vendor = VendorFactory(status="pending", name="Nomad Data", contact_email="ops@nomad.example")
    user = UserFactory(email="dev@nomad.example")
    user.set_password(PASSWORD)
    user.save()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    VendorUser.objects.create(vendor=vendor, user=user, role="owner")
    console.open("/portal/accounts/login/")
    _type(console, "id_login", user.email)
    _type(console, "id_password", PASSWORD)
    _submit(console)
    console.wait_css("#pending")
    key = _test_key_and_test_mode(console)
    console.open("/portal/orders/")
    order = _curl_order(console.base_url, key)
    assert order["livemode"] is False, order
    console.wait_css(f"#order-{order_public_id(order['id'])} .status-completed")
    assert VendorAPIKey.objects.filter(vendor=vendor).count() == 0  # no live key while pending
