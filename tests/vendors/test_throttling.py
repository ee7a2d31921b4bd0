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
    """On the full stack the throttle counts in Redis, shared by every worker: a sorted set
    of the window's grants, not a pickled request log."""
    from django_redis import get_redis_connection

    assert "redis" in settings.CACHES["default"]["BACKEND"].lower()
    client = vendor_client()
    with _rates(vendor="3/min"):
        client.get(URL)
        client.get(URL)
    redis = get_redis_connection("default")
    key = f"ttelgo:throttle:throttle_vendor_key:{client.vendor.api_keys.get().pk}"
    assert [k.decode() for k in redis.scan_iter("ttelgo:throttle:*")] == [key]
    assert redis.type(key) == b"zset" and redis.zcard(key) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_burst_gets_exactly_the_limit_through():
    """The window is taken atomically in Redis: 20 requests racing for 5 slots pass 5."""
    import threading

    from django.db import connection

    from tests.vendors.factories import key_client

    key = vendor_client().key
    clients = [key_client(key) for _ in range(20)]
    barrier = threading.Barrier(len(clients))
    codes: list[int] = []
    lock = threading.Lock()

    def send(client) -> None:
        try:
            barrier.wait()
            code = client.get(URL).status_code
            with lock:
                codes.append(code)
        finally:
            connection.close()

    with _rates(vendor="5/min"):
        threads = [threading.Thread(target=send, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(codes) == [200] * 5 + [429] * 15


def _test_key_client(live_client):
    from tests.vendors.factories import key_client
    from vendors.services import api_key_issue, vendor_test_environment

    environment, _ = vendor_test_environment(vendor=live_client.vendor)
    _, key = api_key_issue(vendor=environment, name="test key")
    assert key.startswith("ttg_test_")
    return key_client(key)


def test_a_test_key_is_held_to_the_test_rate_not_the_live_one(db):
    """Test traffic counts against `vendor_test` (THROTTLE_VENDOR_TEST), so it can be set
    lower than live traffic's rate; the live key keeps the live rate."""
    live = vendor_client()
    test = _test_key_client(live)
    with _rates(vendor="100/min", vendor_test="3/min"):
        assert [test.get(URL).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert [live.get(URL).status_code for _ in range(5)] == [200] * 5


def test_test_and_live_order_budgets_never_spend_each_other(db):
    """A test key that used up its order budget leaves the live key's whole budget, and a
    live key at its limit leaves the test key's."""
    live = vendor_client()
    test = _test_key_client(live)

    def order(client, i):
        return client.post(
            "/api/v1/vendor/orders",
            {"bundle_code": "nope", "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"{id(client)}-{i}",
        ).status_code

    with _rates(vendor_orders="3/min", vendor_orders_test="2/min"):
        test_codes = [order(test, i) for i in range(3)]
        live_codes = [order(live, i) for i in range(4)]
        assert order(test, 9) == 429
    assert 429 not in test_codes[:2] and test_codes[2] == 429
    assert 429 not in live_codes[:3] and live_codes[3] == 429


@pytest.mark.postgres
def test_a_test_key_counts_in_its_own_redis_window(db):
    """On the full stack the test key's window is its own sorted set under the test scope."""
    from django_redis import get_redis_connection

    live = vendor_client()
    test = _test_key_client(live)
    with _rates(vendor="5/min", vendor_test="2/min"):
        assert [test.get(URL).status_code for _ in range(3)] == [200, 200, 429]
        assert live.get(URL).status_code == 200
    keys = {k.decode() for k in get_redis_connection("default").keys("*throttle*vendor_test*")}
    assert len(keys) == 1
