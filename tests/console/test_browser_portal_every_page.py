"""Every portal page at a phone's width (390 px), in live and in test mode, with data on
it: nothing wider than the screen, the menu folded under its button (and opening), and
axe-core finds no critical or serious violation. With SCREENSHOTS=1 the new pages (an
eSIM's top-up confirm, auto top-ups, the test outbox) are saved to docs/screenshots/."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from axe_selenium_python import Axe
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from selenium.webdriver.common.by import By

from catalogue.models import Bundle, Country
from fulfilment.auto_topups.models import AutoTopupRule
from fulfilment.models import Esim
from orders.models import Order
from portal.models import BulkOrder
from portal.public_ids import order_pk_from_public_id
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, TOPUP_CODE, fund
from tests.webhooks.factories import PUBLIC_URL
from vendors.models import ApiRequestLog, Vendor, VendorUser
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = 390


def serious_violations(driver: Any) -> list[str]:
    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    return [
        f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']][:3]})"
        for v in results["violations"]
        if v.get("impact") in ("critical", "serious")
    ]


def _shot(console: Any, name: str) -> None:
    if os.environ.get("SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        console.driver.save_screenshot(str(SHOTS / f"portal-{name}.png"))


def _order(portal: Client, key: str, email: str) -> Order:
    body = {
        "bundle_code": BUNDLE_CODE,
        "quantity": 1,
        "customer_language": "en",
        "customer_reference": "BK-1",
        "customer_email": email,
        "idempotency_key": key,
        "confirm": "1",
    }
    placed = portal.post(reverse("portal:order-new"), body)
    assert placed.status_code == 302, placed.content.decode()[:3000]
    pk = order_pk_from_public_id(placed["Location"].rsplit("/", 1)[1])
    assert pk is not None
    return Order.objects.get(pk=pk)


def _world(portal: Client, vendor: Vendor, *, test: bool) -> list[str]:
    """Data of every kind the portal lists, in the current mode; the pages to visit."""
    order = _order(portal, f"k-{test}", "traveller@example.com")
    esim = Esim.objects.filter(order=order).first()
    assert esim is not None, order.status
    portal.post(reverse("portal:webhooks"), {"url": PUBLIC_URL, "events": ["*"]})
    endpoint = WebhookEndpoint.objects.filter(vendor=order.vendor).first()
    portal.post(
        reverse("portal:auto-topups"),
        {"iccid": esim.iccid, "bundle_code": TOPUP_CODE, "below_percent": 20, "monthly_limit": 3},
    )
    portal.post(
        reverse("portal:support"),
        {"subject": "Help", "body": "It does not connect.", "iccid": esim.iccid},
    )
    upload = io.BytesIO(
        f"bundle,quantity,customer_email,language,reference\n{BUNDLE_CODE},1,,en,B-1\n".encode()
    )
    upload.name = "orders.csv"
    portal.post(reverse("portal:bulk-orders"), {"file": upload})
    payment = portal.post(reverse("portal:wallet-topup"), {"amount": "25.00"})
    assert order.vendor is not None
    log = ApiRequestLog.objects.create(
        vendor=order.vendor,
        created_at=order.created_at,
        method="POST",
        path="/api/v1/vendor/orders",
        status=201,
        latency_ms=42,
        request_id="req_" + "a" * 40,
        key_prefix="ttg_test_abcdef12",
        request_body=json.dumps({"bundle_code": BUNDLE_CODE, "quantity": 1}),
        response_body=json.dumps({"id": 1, "status": "completed", "long": "x" * 300}),
    )
    pages = [
        reverse("portal:overview"),
        reverse("portal:orders"),
        reverse("portal:order-new") + "?q=united",
        reverse("portal:order", args=[order.pk]),
        reverse("portal:esims"),
        reverse("portal:esim-topup", args=[esim.iccid]),
        reverse("portal:catalogue"),
        reverse("portal:auto-topups"),
        reverse("portal:iot-sims"),
        reverse("portal:billing"),
        payment["Location"],
        reverse("portal:bulk-orders"),
        reverse("portal:api-keys"),
        reverse("portal:webhooks"),
        reverse("portal:request-log"),
        reverse("portal:request-log-entry", args=[log.pk]),
        reverse("portal:support"),
        reverse("portal:brand"),
        reverse("portal:team"),
        reverse("portal:test-outbox"),
        reverse("mfa_index"),
    ]
    rule = AutoTopupRule.objects.filter(vendor=order.vendor).first()
    if rule is not None:
        pages.append(reverse("portal:auto-topup-edit", args=[rule.pk]))
    if endpoint is not None:
        pages.append(reverse("portal:webhook-edit", args=[endpoint.pk]))
    delivery = WebhookDelivery.objects.filter(vendor=order.vendor).first()
    if delivery is not None:
        pages.append(reverse("portal:webhook-delivery", args=[delivery.pk]))
    bulk = BulkOrder.objects.filter(vendor=order.vendor).first()
    if bulk is not None:
        pages.append(reverse("portal:bulk-order", args=[bulk.pk]))
    if test:
        pages.append(reverse("portal:test-tools"))
    return pages


def _check(console: Any, path: str) -> list[str]:
    """What is wrong with the page at `path` (nothing, for a page that passes)."""
    console.open(path)
    console.wait_css("main")
    width = console.driver.execute_script("return document.documentElement.scrollWidth")
    viewport = console.driver.execute_script("return window.innerWidth")
    problems = [f"{width}px wide on a {viewport}px screen"] if width > viewport else []
    return [f"{path}: {p}" for p in problems + serious_violations(console.driver)]


@pytest.mark.timeout(900)  # some 50 pages with axe-core on each, on a busy machine
def test_every_portal_page_fits_a_phone_and_passes_axe_in_both_modes(console, bundles, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    uk = Country.objects.create(iso="GB", name="United Kingdom")
    for code in (BUNDLE_CODE, TOPUP_CODE):
        Bundle.objects.get(code=code).countries.add(uk)
    Bundle.objects.filter(code=BUNDLE_CODE).update(display_name="United Kingdom 1 GB, 7 days")
    vendor = Vendor.objects.create(
        name="Roamly", status="active", currency="USD", timezone="Europe/Madrid"
    )
    fund(vendor, 50_000)
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="owner")
    portal = Client()
    portal.force_login(member.user)
    live_pages = _world(portal, vendor, test=False)
    portal.post(reverse("portal:mode"), {"mode": "test", "next": "/portal/"})
    test_pages = _world(portal, vendor, test=True)

    console.driver.set_window_size(PHONE, 844)
    try:
        console.open("/portal/accounts/login/")
        console.driver.add_cookie(
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": portal.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "path": "/",
            }
        )
        # Test mode first (the session is in it), then live.
        problems: list[str] = []
        for path in test_pages:
            problems += _check(console, path)
            if "/topup" in path:
                _shot(console, "esim-topup-confirm-390")
            elif path.endswith("/test/outbox"):
                assert "traveller@example.com" in console.text()
                _shot(console, "test-outbox-390")
            elif path.endswith("/auto-topups/"):
                _shot(console, "auto-topups-390")
        # The menu is folded on a phone and opens from its button.
        menu = console.driver.find_element(By.ID, "portal-menu")
        assert not menu.is_displayed()
        console.driver.find_element(By.ID, "menu-toggle").click()
        assert menu.is_displayed()
        assert serious_violations(console.driver) == []
        _shot(console, "menu-390")
        console.driver.find_element(By.ID, "mode-switch").click()
        console.wait_css("main")
        assert not console.driver.find_elements(By.ID, "test-mode-bar")
        for path in live_pages:
            problems += _check(console, path)
        assert problems == [], "\n".join(problems)
    finally:
        console.driver.set_window_size(1440, 900)
