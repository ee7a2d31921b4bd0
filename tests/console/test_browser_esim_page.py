"""A traveller opens the eSIM install page on a phone-sized screen: the install button,
the QR and the activation code with its copy button fit the screen."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from orders.esim_pages import esim_page_token
from orders.esim_records import Esim
from tests.console.factories import b2c_order, pay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_install_page_works_on_a_phone(console, bundles):
    order = pay(b2c_order())
    esim = Esim.objects.get(order=order)
    console.driver.set_window_size(390, 844)
    try:
        _check_the_page(console, esim)
    finally:
        console.driver.set_window_size(1440, 900)


def _check_the_page(console, esim: Esim) -> None:
    console.open(f"/e/{esim_page_token(esim)}")
    console.wait_css("#qr svg")
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
