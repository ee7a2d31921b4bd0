"""One client-IP rule (`NUM_PROXIES`) for throttles, orders' `client_ip` and logs: a
client rotating its own X-Forwarded-For is still one client."""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from ttelgo.client_ip import client_ip

pytestmark = pytest.mark.django_db


def _request(xff: str | None = None, remote: str = "198.51.100.7"):
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if xff is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = xff
    return request


@pytest.mark.parametrize(
    ("proxies", "xff", "expected"),
    [
        (0, "203.0.113.1", "198.51.100.7"),  # no proxy of ours: the header is the client's say
        (0, None, "198.51.100.7"),
        (1, "10.9.9.9, 203.0.113.1", "203.0.113.1"),  # our proxy appended the real one
        (2, "10.9.9.9, 203.0.113.1, 192.0.2.5", "203.0.113.1"),
        (1, None, "198.51.100.7"),
        (3, "203.0.113.1", "203.0.113.1"),  # fewer hops than proxies: the leftmost
    ],
)
def test_the_client_is_the_nth_forwarded_address_from_the_right(proxies, xff, expected):
    with override_settings(NUM_PROXIES=proxies):
        assert client_ip(_request(xff)) == expected


def _login_statuses(api_client, forwarded_for: list[str]) -> list[int]:
    from django.conf import settings as live

    rates = {**live.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "auth": "3/min"}
    body = {"email": "x@example.com", "password": "wrong-password-1"}
    with override_settings(REST_FRAMEWORK={**live.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        ScopedRateThrottle.THROTTLE_RATES = rates
        try:
            return [
                api_client.post(
                    "/api/v1/auth/token", body, format="json", HTTP_X_FORWARDED_FOR=xff
                ).status_code
                for xff in forwarded_for
            ]
        finally:
            ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES  # type: ignore[assignment]


def test_rotating_x_forwarded_for_does_not_escape_the_login_throttle(api_client):
    rotating = [f"203.0.113.{i}" for i in range(1, 7)]
    assert _login_statuses(api_client, rotating) == [401, 401, 401, 429, 429, 429]


def test_behind_one_proxy_distinct_clients_are_throttled_apart(api_client, settings):
    settings.NUM_PROXIES = 1
    # Two real clients behind our proxy; each may spoof the left part as it likes.
    alternating = [f"6.6.6.{i}, 203.0.113.{i % 2}" for i in range(6)]
    assert _login_statuses(api_client, alternating) == [401] * 6


def test_an_order_records_the_same_client_ip():
    from orders.models import Order
    from tests.factories import UserFactory
    from tests.orders.factories import BUNDLE_CODE, bundles_create, customer_client

    bundles_create()

    client = customer_client(UserFactory())
    response = client.post(
        "/api/v1/orders",
        {"bundle_code": BUNDLE_CODE, "quantity": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY="ip-1",
        HTTP_X_FORWARDED_FOR="203.0.113.50",
        REMOTE_ADDR="198.51.100.9",
    )
    assert response.status_code == 201, response.content
    assert Order.objects.get(pk=response.json()["id"]).client_ip == "198.51.100.9"
