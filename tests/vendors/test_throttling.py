"""Per-API-key rate limits: a burst gets 429 envelopes with Retry-After."""

import pytest
from django.test import override_settings
from rest_framework.settings import api_settings

from tests.vendors.factories import vendor_client

URL = "/api/v1/vendor/webhook-endpoints"


def _rates(**rates):
    return override_settings(
        REST_FRAMEWORK={
            **api_settings.user_settings,
            "DEFAULT_THROTTLE_RATES": {
                "vendor": "10000/min",
                "vendor_orders": "10000/min",
                "signup": "10000/min",
                "auth": "10000/min",
                **rates,
            },
        }
    )


def test_a_burst_over_the_vendor_rate_gets_429_envelopes_with_retry_after(db):
    client = vendor_client()
    other = vendor_client()
    with _rates(vendor="5/min"):
        codes = [client.get(URL).status_code for _ in range(8)]
        limited = client.get(URL)
        # The limit is per key: another vendor's key is unaffected.
        assert other.get(URL).status_code == 200
    assert codes == [200] * 5 + [429] * 3
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    error = limited.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["retry_after"] == int(limited["Retry-After"])


def test_two_keys_of_one_vendor_are_limited_separately(db):
    from tests.vendors.factories import key_client
    from vendors.services import api_key_issue

    client = vendor_client()
    _, second_key = api_key_issue(vendor=client.vendor, name="second")
    with _rates(vendor="2/min"):
        assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 429]
        assert key_client(second_key).get(URL).status_code == 200


def test_order_creation_has_its_own_tighter_limit_that_reads_do_not_use(db):
    client = vendor_client()
    with _rates(vendor_orders="2/min"):
        statuses = [
            client.post(
                "/api/v1/vendor/orders",
                {"bundle_code": "nope", "quantity": 1},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"k{i}",
            ).status_code
            for i in range(3)
        ]
        reads = [client.get("/api/v1/vendor/orders").status_code for _ in range(3)]
    assert statuses[:2] != [429, 429] and statuses[2] == 429
    assert reads == [200, 200, 200]


@pytest.mark.postgres
def test_the_counter_lives_in_the_shared_cache(db, settings):
    """On the full stack the throttle counts in Redis, shared by every worker."""
    from django.core.cache import cache

    assert "redis" in settings.CACHES["default"]["BACKEND"].lower()
    client = vendor_client()
    with _rates(vendor="3/min"):
        client.get(URL)
    keys = list(cache.keys("throttle_vendor_*"))  # type: ignore[attr-defined]
    assert keys == [f"throttle_vendor_key:{client.vendor.api_keys.get().pk}"]
