"""Console fixtures: operators per role and one headless Chromium per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.console.factories import OPERATOR_PASSWORD, operator

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
)


@pytest.fixture(autouse=True)
def _sandbox_clean():
    from sandbox.provider import sandbox_faults_reset

    sandbox_faults_reset()
    yield
    sandbox_faults_reset()


@pytest.fixture
def bundles(db):
    from tests.orders.factories import bundles_create

    return bundles_create()


@pytest.fixture
def support_user(db):
    return operator("support")


@pytest.fixture
def finance_user(db):
    return operator("finance")


@pytest.fixture
def admin_user_role(db):
    return operator("admin")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole session (starting it is the slow part). Selenium Manager
    is never asked to download anything: both binaries are Debian's."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(0)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def console(browser, live_server):
    """The browser, cookies cleared, with helpers bound to this test's live server."""
    from tests.console.browser import Console

    browser.delete_all_cookies()
    return Console(browser, live_server.url)


__all__ = ["OPERATOR_PASSWORD"]
