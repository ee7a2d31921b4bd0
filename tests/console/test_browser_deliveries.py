"""The webhook deliveries list fits a 1440 px screen, long endpoint URLs included."""

from __future__ import annotations

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests.console.factories import OPERATOR_PASSWORD, operator
from tests.factories import VendorFactory
from ttelgo.outbox import event_record
from webhooks.services import endpoint_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_deliveries_table_is_not_cut_off_at_1440_px(console, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    vendor = VendorFactory(name="Globetrotter Connectivity Solutions International")
    long_url = "https://hooks.globetrotter-connectivity.example/" + "v1/" * 20 + "ttelgo/events"
    endpoint_create(vendor=vendor, url=long_url, events=["*"])
    for _ in range(3):
        event_record(
            vendor_id=vendor.pk,
            livemode=vendor.livemode,
            type="esim.usage_threshold",
            data={"percent": 80},
        )
    user = operator("admin")
    console.driver.set_window_size(1440, 900)
    console.login(user.email, OPERATOR_PASSWORD)
    console.open("/admin/webhooks/webhookdelivery/")
    table = console.wait_css("#result_list")
    WebDriverWait(console.driver, 20).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    right = console.driver.execute_script(
        "return arguments[0].getBoundingClientRect().right", table
    )
    viewport = console.driver.execute_script("return document.documentElement.clientWidth")
    assert right <= viewport, (right, viewport)
    page_width = console.driver.execute_script("return document.documentElement.scrollWidth")
    assert page_width <= viewport, (page_width, viewport)
    assert "esim.usage_threshold" in console.text()
