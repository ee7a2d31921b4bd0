"""A traveller opens the eSIM install page on a phone-sized screen: the install button,
the QR and the activation code with its copy button fit the screen; the page reads in
their language (switchable), a vendor's eSIM shows only the vendor's brand, the "I need
help" form opens a ticket, and axe-core finds no critical accessibility violation."""

from __future__ import annotations

from typing import Any

import pytest
from axe_selenium_python import Axe
from django.core import mail
from selenium.webdriver.common.by import By

from fulfilment.links import esim_page_token
from fulfilment.models import Esim
from orders.models import Order
from orders.services import order_create_b2b
from support.models import Ticket
from tests.console.factories import b2c_order, pay
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, fund
from vendors.branding import vendor_brand_set

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone(console):
    console.driver.set_window_size(390, 844)
    yield console
    console.driver.set_window_size(1440, 900)


def critical_violations(driver: Any) -> list[str]:
    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results["violations"]
        if v.get("impact") == "critical"
    ]


def test_the_install_page_works_on_a_phone_in_two_languages(phone, bundles, settings):
    settings.SUPPORT_EMAIL = "support@ttelgo.example"
    order = pay(b2c_order())
    esim = Esim.objects.get(order=order)
    phone.open(f"/e/{esim_page_token(esim)}?lang=es")
    phone.wait_css("#qr svg")
    _check_the_layout(phone, esim)
    assert "Copiar el código de activación" in phone.text()
    assert phone.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    assert critical_violations(phone.driver) == []

    phone.driver.find_element(By.CSS_SELECTOR, "a[hreflang='de']").click()
    phone.wait_text("Aktivierungscode kopieren")
    assert phone.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
    assert critical_violations(phone.driver) == []

    # "Ich brauche Hilfe": the message becomes a ticket, answered by email.
    phone.driver.find_element(By.ID, "help-message").send_keys("Kein Netz in Lissabon, bitte.")
    phone.driver.find_element(By.ID, "help-send").click()
    phone.wait_text("Wir haben Ihre Nachricht erhalten")
    ticket = Ticket.objects.get()
    assert ticket.iccid == esim.iccid and ticket.language == "de"
    # Support is told, and the traveller gets an acknowledgement of the ticket.
    recipients = [m.to for m in mail.outbox]
    assert ["support@ttelgo.example"] in recipients
    assert [order.customer.email] in recipients


def test_a_vendors_esim_page_shows_only_the_vendors_brand(phone, bundles):
    vendor = VendorFactory(name="Globetrotter Ltd")
    fund(vendor, 10_000)
    vendor_brand_set(
        vendor=vendor,
        display_name="Globetrotter Mobile",
        primary_color="#0f766e",
        support_email="help@globetrotter.example",
        support_url="https://globetrotter.example/help",
    )
    order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    esim = Esim.objects.get(order=order)
    phone.open(f"/e/{esim_page_token(esim)}?lang=fr")
    phone.wait_css("#qr svg")
    _check_the_layout(phone, esim)
    text = phone.text()
    assert "Globetrotter Mobile" in text and "TTelGo" not in text
    assert "Copier le code d'activation" in text
    header = phone.driver.find_element(By.TAG_NAME, "header")
    assert header.value_of_css_property("background-color") == "rgba(15, 118, 110, 1)"
    help_link = phone.driver.find_element(By.ID, "help-link")
    assert help_link.get_attribute("href") == "https://globetrotter.example/help"
    assert critical_violations(phone.driver) == []


def _check_the_layout(console: Any, esim: Esim) -> None:
    assert (
        console.driver.find_element(By.ID, "ios-install")
        .get_attribute("href")
        .startswith("https://esimsetup.apple.com/")
    )
    assert esim.lpa in console.driver.find_element(By.ID, "lpa").text
    button = console.driver.find_element(By.ID, "copy-lpa")
    assert button.is_displayed()
    width = console.driver.execute_script("return document.documentElement.scrollWidth")
    viewport = console.driver.execute_script("return document.documentElement.clientWidth")
    assert width <= viewport, (width, viewport)


def test_a_customer_buys_more_data_on_the_page(phone, bundles):
    order = pay(b2c_order())
    esim = Esim.objects.get(order=order)
    phone.open(f"/e/{esim_page_token(esim)}?lang=en")
    phone.wait_css("#topup-buy").click()
    phone.wait_css("#confirm-payment")
    assert "Top up your eSIM" in phone.text()
    assert critical_violations(phone.driver) == []
    phone.driver.find_element(By.ID, "confirm-payment").click()
    phone.wait_css("#paid")
    topup = Order.objects.get(kind="topup")
    assert topup.status == "completed" and topup.target_iccid == esim.iccid
