"""Browser tests: an operator works through the console in headless Chromium."""

from __future__ import annotations

import pytest

from orders.models import Order
from tests.console.factories import OPERATOR_PASSWORD, operator, order_row

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_operator_logs_in_and_sees_the_dashboard(console):
    user = operator("admin")
    order_row(status=Order.Status.IN_REVIEW, total=4200)
    console.login(user.email, OPERATOR_PASSWORD)
    assert console.wait_css("[data-testid='open-reviews']").text == "1"
    assert console.wait_css("[data-testid='sales-today']").text == "42.00 USD"
    assert "sandbox: sandbox" in console.text()
