"""Selling from the portal in headless Chromium, at 1440 px and 390 px: a vendor picks a
bundle by country, reviews the price and what the wallet has left, confirms (a double
click places one order), sees the eSIM with its QR code, install link, "copy link" and
"send to the traveller"; then a 200-row CSV bulk order with a bad row is refused with the
row named, the corrected file is placed with its progress bar, and the same file uploaded
again replays its orders at once (no row waits on its key). No page overflows
sideways, and axe-core finds no critical violation. With SCREENSHOTS=1 the pages are saved
to docs/screenshots/ for the README."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from catalogue.models import Bundle, Country
from orders.models import Order
from portal.models import BulkOrder
from tests.console.test_browser_esim_page import critical_violations
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, TOPUP_CODE, fund
from vendors.models import Vendor, VendorUser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _shot(console: Any, name: str) -> None:
    if os.environ.get("SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        console.driver.save_screenshot(str(SHOTS / f"portal-{name}.png"))


def _logged_in(console, cents=50_000):
    uk = Country.objects.create(iso="GB", name="United Kingdom")
    for code in (BUNDLE_CODE, TOPUP_CODE):
        Bundle.objects.get(code=code).countries.add(uk)
    Bundle.objects.filter(code=BUNDLE_CODE).update(display_name="United Kingdom 1 GB, 7 days")
    vendor = Vendor.objects.create(name="Roamly", status="active", currency="USD")
    fund(vendor, cents)
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="owner")
    client = Client()
    client.force_login(member.user)
    console.open("/portal/accounts/login/")
    console.driver.add_cookie(
        {
            "name": django_settings.SESSION_COOKIE_NAME,
            "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
            "path": "/",
        }
    )
    return vendor


def _fits(console: Any) -> None:
    width = console.driver.execute_script("return document.documentElement.scrollWidth")
    viewport = console.driver.execute_script("return window.innerWidth")
    assert width <= viewport, (console.driver.current_url, width, viewport)
    assert critical_violations(console.driver) == []


@pytest.mark.parametrize("width", [1440, 390])
def test_a_vendor_orders_an_esim_in_the_portal_and_sends_it_to_the_traveller(
    console, bundles, width
):
    console.driver.set_window_size(width, 900)
    try:
        _logged_in(console)
        console.open("/portal/orders/new?q=united")
        console.wait_css("#bundle-picker")
        _fits(console)
        _shot(console, f"order-new-{width}")
        console.click(f"#bundle-{BUNDLE_CODE}")
        field = console.wait_css("#id_customer_email")
        field.send_keys("traveller@example.com")
        console.click("#order-review")
        console.wait_css("#order-confirm")
        assert "4.50 USD" in console.text() and "495.50 USD" in console.text()
        _fits(console)
        _shot(console, f"order-confirm-{width}")
        # A double click: the second submit is held back in the page, and the server
        # would answer it with the same order anyway.
        console.driver.execute_script(
            "var b = document.getElementById('order-confirm'); b.click(); b.click();"
        )
        console.wait_css(".esim .qr svg")
        order = Order.objects.get()
        esim = order.esims.get()
        assert Order.objects.count() == 1 and order.status == "completed"
        assert console.driver.find_element(By.ID, f"copy-{esim.iccid}").is_displayed()
        _fits(console)
        _shot(console, f"order-{width}")
        mail.outbox.clear()
        console.click(f"#send-{esim.iccid}")
        console.wait_text("The delivery email is on its way to traveller@example.com")
        assert [m.to for m in mail.outbox] == [["traveller@example.com"]]
        # The traveller's install page, from the order's link.
        page_url = console.driver.find_element(By.ID, f"page-{esim.iccid}").get_attribute("href")
        console.driver.get(console.base_url + "/" + page_url.split("://", 1)[1].split("/", 1)[1])
        console.wait_css("#qr svg")
    finally:
        console.driver.set_window_size(1440, 900)


def _uploaded(console: Any, path: str) -> None:
    """`path` sent from the upload page, then its job page with the bar full. Here Celery
    runs eagerly, so the upload's answer waits for all 200 orders (a worker places them
    while the page polls, in production). An upload refused (the upload page again, with
    why) fails at once with its text."""
    console.wait_css("#id_file").send_keys(path)
    page = console.driver.find_element(By.TAG_NAME, "html")
    console.click("#bulk-upload")
    WebDriverWait(console.driver, 300).until(expected_conditions.staleness_of(page))

    def answered(d: Any) -> bool:
        text = d.find_element(By.TAG_NAME, "body").text
        return "200 of 200 · done" in text or bool(d.find_elements(By.ID, "bulk-errors"))

    WebDriverWait(console.driver, 300, ignored_exceptions=(WebDriverException,)).until(answered)
    assert not console.driver.find_elements(By.ID, "bulk-errors"), console.text()
    bar = console.driver.find_element(By.ID, "bulk-progress")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "200"


def _csv(path: Path, lines: list[str]) -> str:
    path.write_text("bundle,quantity,customer_email,language,reference\n" + "\n".join(lines))
    return str(path)


def test_a_bulk_order_refuses_a_bad_row_then_places_the_file_once(console, bundles, tmp_path):
    console.driver.set_window_size(390, 900)
    # Celery is eager here: the 200 orders' provisioning would run inside the upload's
    # request. It is not what this test is about (tests/portal/test_portal_bulk_orders.py
    # follows rows to their eSIMs): the orders are placed and left queued.
    held = mock.patch("orders.services.order_provisioning_enqueue")
    held.start()
    try:
        _logged_in(console, cents=100_000)  # 200 x 4.50 = 900.00
        rows = [f"{BUNDLE_CODE},1,,en,BK-{i}" for i in range(200)]
        bad = [*rows[:57], f"{BUNDLE_CODE},11,not-an-email,en,BK-57", *rows[58:]]
        console.open("/portal/orders/bulk/")
        console.wait_css("#id_file").send_keys(_csv(tmp_path / "bad.csv", bad))
        console.click("#bulk-upload")
        console.wait_css("#bulk-errors")
        text = console.text()
        assert "59" in text and "quantity" in text and "customer_email" in text
        assert Order.objects.count() == 0
        _fits(console)
        _shot(console, "bulk-errors-390")
        good = _csv(tmp_path / "good.csv", rows)
        _uploaded(console, good)
        assert Order.objects.count() == 200
        _fits(console)
        _shot(console, "bulk-done-390")
        # The same file again: its rows replay their orders (the wallet could not pay for
        # it twice), none waits on its key as if another upload were placing it.
        console.open("/portal/orders/bulk/")
        with mock.patch("portal.bulk.time", wraps=time) as paused:
            _uploaded(console, good)
        assert paused.sleep.call_count == 0
        assert Order.objects.count() == 200 and BulkOrder.objects.count() == 2
    finally:
        held.stop()
        console.driver.set_window_size(1440, 900)
