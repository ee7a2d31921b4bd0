"""A thin page helper for the console browser tests (Selenium 4)."""

from __future__ import annotations

from typing import Any

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

WAIT_SECONDS = 20


class Console:
    def __init__(self, driver: Any, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def wait_css(self, selector: str) -> WebElement:
        return WebDriverWait(
            self.driver, WAIT_SECONDS, ignored_exceptions=(WebDriverException,)
        ).until(ec.presence_of_element_located((By.CSS_SELECTOR, selector)))

    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def wait_text(self, fragment: str) -> None:
        # While a form's answer replaces the page, Chromium may report the old body's
        # node as gone (stale element, or an inspector error): look again.
        WebDriverWait(
            self.driver,
            WAIT_SECONDS,
            ignored_exceptions=(StaleElementReferenceException, WebDriverException),
        ).until(lambda d: fragment in d.find_element(By.TAG_NAME, "body").text)

    def open_form(self, selector: str) -> None:
        """Click an action that opens an operator form page, and wait for the form."""
        self.click(selector)
        self.wait_css("#operator-form")

    def fill(self, name: str, value: str) -> None:
        field = self.wait_css(f"#operator-form [name='{name}'], #login-form [name='{name}']")
        if field.tag_name == "select":
            Select(field).select_by_value(value)
            return
        field.clear()
        field.send_keys(value)

    def submit(self, selector: str = "form [type='submit']") -> None:
        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def click_link(self, text: str) -> None:
        self._click_first_visible(By.PARTIAL_LINK_TEXT, text)

    def click_link_exactly(self, text: str) -> None:
        """Click the link whose whole text is `text` (on a page that refreshes itself too)."""
        self._click_first_visible(By.LINK_TEXT, text)

    def click(self, selector: str) -> None:
        """Click the first visible match (unfold also renders actions in hidden menus)."""
        self._click_first_visible(By.CSS_SELECTOR, selector)

    def _click_first_visible(self, by: str, value: str) -> None:
        def click(driver: Any) -> bool:
            element = next((e for e in driver.find_elements(by, value) if e.is_displayed()), None)
            if element is None:
                return False
            element.click()
            return True

        # A page still being replaced may hand out elements that go stale: try again.
        WebDriverWait(
            self.driver, WAIT_SECONDS, ignored_exceptions=(StaleElementReferenceException,)
        ).until(click)

    def login(self, email: str, password: str) -> None:
        self.open("/admin/login/?next=/admin/")
        self.fill("username", email)
        self.fill("password", password)
        self.submit("form [type='submit']")
        self.wait_css("#ttelgo-dashboard")
