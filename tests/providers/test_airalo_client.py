"""The Airalo Partner API v2 client against `responses`: token, catalogue, orders,
install data, usage, top-ups, refunds, error mapping, webhook signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import redis
import responses
from django.conf import settings
from django.core.cache import cache
from responses import matchers

from providers import (
    CircuitOpen,
    ProviderAuthError,
    ProviderIccidRecycled,
    ProviderMaintenance,
    ProviderNoCredit,
    ProviderOutOfStock,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTopupDisabled,
    ProviderUnavailable,
)
from providers.airalo import AiraloProvider, airalo_signature_valid
from providers.ratelimit import LocalLimiter, UnlimitedLimiter
from providers.resilience import build_breaker
from providers.tokens import TokenCache
from ttelgo.money import Money

from .airalo_data import BASE, CLIENT_ID, SECRET, country, order, package, sim, token_answer

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (run `make test`)")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_client(*, tokens: TokenCache, sleeps=None, breaker=None, **kwargs) -> AiraloProvider:
    return AiraloProvider(
        client_id=CLIENT_ID,
        client_secret=SECRET,
        base_url=BASE,
        currency="USD",
        breaker=breaker
        or build_breaker(name=f"t-{uuid.uuid4().hex}", fail_max=50, reset_timeout=60, redis_url=""),
        sleep=sleeps if sleeps is not None else (lambda s: None),
        limiter=UnlimitedLimiter(),
        token_limiter=kwargs.pop("token_limiter", UnlimitedLimiter()),
        packages_limiter=UnlimitedLimiter(),
        usage_limiter=UnlimitedLimiter(),
        refund_limiter=UnlimitedLimiter(),
        token_cache=tokens,
        **kwargs,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(clock) -> TokenCache:
    return TokenCache(
        name=f"t-{uuid.uuid4().hex}", client=None, max_age=86400, margin=3600, clock=clock
    )


@pytest.fixture
def airalo(tokens) -> AiraloProvider:
    cache.clear()
    return make_client(tokens=tokens)


def token_mock(token: str = "tok-1", expires_in: int = 31622400) -> responses.BaseResponse:  # noqa: S107
    return responses.post(
        f"{BASE}/token",
        json=token_answer(token, expires_in),
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "client_id": CLIENT_ID,
                    "client_secret": SECRET,
                    "grant_type": "client_credentials",
                }
            )
        ],
    )


def bearer(token: str) -> list:
    return [matchers.header_matcher({"Authorization": f"Bearer {token}"})]


# --- token -----------------------------------------------------------------------------------
@responses.activate
def test_token_is_fetched_once_and_reused(airalo):
    token = token_mock()
    responses.get(
        f"{BASE}/balance",
        json={
            "data": {
                "balances": {
                    "name": "b",
                    "availableBalance": {"amount": "120.5", "currency": "USD"},
                }
            }
        },
        match=bearer("tok-1"),
    )
    assert airalo.balance() == Money(12050, "USD")
    assert airalo.balance() == Money(12050, "USD")
    assert token.call_count == 1


@responses.activate
def test_token_refreshed_before_its_max_age_not_a_year_later(airalo, clock):
    """Airalo's sample says a year; the setting caps it at 24 h minus the margin."""
    first = token_mock("tok-1")
    responses.get(f"{BASE}/balance", json={"data": {"balances": {}}}, match=bearer("tok-1"))
    airalo.balance()
    clock.now += 86400 - 3600 - 1  # still fresh
    airalo.balance()
    assert first.call_count == 1
    responses.replace(responses.POST, f"{BASE}/token", json=token_answer("tok-2"))
    responses.get(f"{BASE}/balance", json={"data": {"balances": {}}}, match=bearer("tok-2"))
    clock.now += 2  # within the margin: refreshed before it expires
    airalo.balance()
    assert responses.calls[-1].request.headers["Authorization"] == "Bearer tok-2"


@responses.activate
def test_token_refreshed_on_401_and_the_call_repeated(airalo):
    responses.post(f"{BASE}/token", json=token_answer("tok-1"))
    airalo.tokens.get(airalo._fetch_token)
    responses.get(
        f"{BASE}/balance",
        status=401,
        json={"data": [], "meta": {"message": "Unauthenticated."}},
        match=bearer("tok-1"),
    )
    responses.replace(responses.POST, f"{BASE}/token", json=token_answer("tok-2"))
    responses.get(
        f"{BASE}/balance",
        json={"data": {"balances": {"availableBalance": {"amount": 1, "currency": "USD"}}}},
        match=bearer("tok-2"),
    )
    assert airalo.balance() == Money(100, "USD")
    assert airalo.tokens.current() == "tok-2"


@responses.activate
def test_a_second_401_is_an_auth_error_not_a_loop(airalo):
    token_mock()
    responses.get(f"{BASE}/balance", status=401, json={"data": [], "meta": {"message": "no"}})
    with pytest.raises(ProviderAuthError):
        airalo.balance()
    assert len([c for c in responses.calls if c.request.url.endswith("/token")]) == 2


@responses.activate
def test_bad_client_credentials_are_an_auth_error(airalo):
    responses.post(
        f"{BASE}/token",
        status=422,
        json={
            "data": {"client_id": "The selected client id is invalid."},
            "meta": {"message": "the parameter is invalid"},
        },
    )
    with pytest.raises(ProviderAuthError):
        airalo.balance()


@responses.activate
def test_ten_concurrent_callers_on_an_expired_token_make_one_token_request(tokens, clock):
    cache.clear()
    clients = [make_client(tokens=tokens) for _ in range(10)]
    token_mock("tok-1")
    responses.get(f"{BASE}/balance", json={"data": {"balances": {}}})
    clients[0].balance()
    clock.now += 86400  # expired for everyone
    responses.remove(responses.POST, f"{BASE}/token")

    def slow_token(request):  # the others find it stale while this one is being fetched
        time.sleep(0.2)
        return 200, {}, json.dumps(token_answer("tok-2"))

    responses.add_callback(responses.POST, f"{BASE}/token", callback=slow_token)
    start = threading.Barrier(10)

    def call(client: AiraloProvider) -> None:
        start.wait()
        client.balance()

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(call, clients))
    # one at first, one for the ten callers
    assert len([c for c in responses.calls if c.request.url.endswith("/token")]) == 2
    assert {c.request.headers.get("Authorization") for c in responses.calls[-10:]} == {
        "Bearer tok-2"
    }


@responses.activate
def test_ten_concurrent_401s_make_one_token_request(tokens):
    cache.clear()
    clients = [make_client(tokens=tokens) for _ in range(10)]
    token_mock("tok-1")
    responses.get(f"{BASE}/balance", json={"data": {"balances": {}}}, match=bearer("tok-1"))
    clients[0].balance()
    responses.replace(
        responses.GET, f"{BASE}/balance", status=401, json={"data": []}, match=bearer("tok-1")
    )
    responses.get(f"{BASE}/balance", json={"data": {"balances": {}}}, match=bearer("tok-2"))
    responses.remove(responses.POST, f"{BASE}/token")

    def slow_token(request):  # the others get their 401 while this one is being fetched
        time.sleep(0.2)
        return 200, {}, json.dumps(token_answer("tok-2"))

    responses.add_callback(responses.POST, f"{BASE}/token", callback=slow_token)
    start = threading.Barrier(10)

    def call(client: AiraloProvider) -> None:
        start.wait()
        client.balance()

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(call, clients))
    assert len([c for c in responses.calls if c.request.url.endswith("/token")]) == 2


def test_token_endpoint_is_rate_limited_per_minute():
    """Three a minute by default: a fourth refresh inside the minute waits for its slot."""
    from providers.ratelimit import per_minute

    limiter = per_minute(name=f"t-{uuid.uuid4().hex}", limit=3, redis_url="")
    assert isinstance(limiter, LocalLimiter)
    assert limiter.limit == 3
    assert limiter.window > 60
    for _ in range(3):
        assert limiter.try_acquire() == 0.0
    assert limiter.try_acquire() > 50


@needs_redis
@responses.activate
def test_the_token_is_shared_by_two_clients_through_redis(clock):
    cache.clear()
    client = redis.Redis.from_url(settings.REDIS_URL)
    name = f"t-{uuid.uuid4().hex}"
    first = make_client(
        tokens=TokenCache(name=name, client=client, max_age=86400, margin=3600, clock=clock)
    )
    second = make_client(
        tokens=TokenCache(name=name, client=client, max_age=86400, margin=3600, clock=clock)
    )
    token_call = token_mock("tok-1")
    responses.get(f"{BASE}/balance", json={"data": {"balances": {}}}, match=bearer("tok-1"))
    first.balance()
    # another process: nothing in its memory, the token comes from Redis
    from providers import tokens as tokens_module

    tokens_module._local_tokens.clear()
    second.balance()
    assert token_call.call_count == 1
    assert 0 < client.ttl(f"ttelgo:token:{name}") <= 86400


@responses.activate
def test_the_token_is_shared_by_two_clients_of_one_process(tokens):
    cache.clear()
    other = TokenCache(
        name=tokens.name, client=None, max_age=86400, margin=3600, clock=tokens.clock
    )
    token_call = token_mock("tok-1")
    responses.get(f"{BASE}/balance", json={"data": {"balances": {}}})
    make_client(tokens=tokens).balance()
    make_client(tokens=other).balance()
    assert token_call.call_count == 1


# --- catalogue -------------------------------------------------------------------------------
@responses.activate
def test_packages_tree_maps_to_our_catalogue(airalo):
    token_mock()
    page1 = {
        "pricing": {"model": "net_pricing", "discount_percentage": 0},
        "data": [
            country(
                "FR",
                [
                    package("change-7days-1gb"),
                    {**package("change-7days-1gb-topup"), "type": "topup"},
                ],
                title="France",
            ),
        ],
        "meta": {"current_page": 1, "last_page": 2, "per_page": "100", "total": 2},
    }
    page2 = {
        "pricing": {"model": "net_pricing"},
        "data": {
            "0": country(
                "",
                [
                    package(
                        "eurolink-30days-unlimited",
                        price="39.00",
                        net="30.105",
                        amount=0,
                        day=30,
                        unlimited=True,
                    )
                ],
                slug="europe",
                title="Europe",
            )
        },
        "meta": {"current_page": 2, "last_page": 2, "per_page": "100", "total": 2},
    }
    responses.get(
        f"{BASE}/packages",
        json=page1,
        match=[matchers.query_param_matcher({"limit": "100", "page": "1"}, strict_match=False)],
    )
    responses.get(
        f"{BASE}/packages",
        json=page2,
        match=[matchers.query_param_matcher({"page": "2"}, strict_match=False)],
    )
    bundles = {b.code: b for b in airalo.list_bundles()}
    assert set(bundles) == {"change-7days-1gb", "eurolink-30days-unlimited"}  # no top-ups
    fr = bundles["change-7days-1gb"]
    assert (fr.data_mb, fr.validity_days, fr.unlimited) == (1024, 7, False)
    assert fr.cost == Money(360, "USD") and fr.retail == Money(450, "USD")
    assert [(c.iso, c.region) for c in fr.countries] == [("FR", "")]
    eu = bundles["eurolink-30days-unlimited"]
    assert (eu.data_mb, eu.unlimited, eu.validity_days) == (0, True, 30)
    assert eu.cost == Money(3011, "USD")  # rounded up, never through a float
    assert [(c.iso, c.region) for c in eu.countries] == [("FR", "Europe"), ("DE", "Europe")]


@responses.activate
def test_discount_pricing_derives_our_cost(airalo):
    token_mock()
    responses.get(
        f"{BASE}/packages",
        json={
            "pricing": {"model": "discount_pricing", "discount_percentage": 20},
            "data": [country("FR", [package(net=None, price="10.00")])],
            "meta": {"last_page": 1},
        },
    )
    (bundle,) = airalo.list_bundles()
    assert bundle.cost == Money(800, "USD")


# --- orders ----------------------------------------------------------------------------------
@responses.activate
def test_order_carries_our_reference_and_maps_install_data(airalo):
    token_mock()
    responses.post(
        f"{BASE}/orders",
        json={"data": order(description="ttelgo-order-7"), "meta": {"message": "success"}},
        match=[
            matchers.json_params_matcher(
                {
                    "quantity": 1,
                    "package_id": "change-7days-1gb",
                    "type": "sim",
                    "description": "ttelgo-order-7",
                }
            )
        ],
    )
    placed = airalo.create_order(
        bundle_code="change-7days-1gb", quantity=1, reference="ttelgo-order-7"
    )
    assert placed.is_complete and placed.reference == "9666"
    assert placed.client_reference == "ttelgo-order-7"
    (esim,) = placed.esims
    assert (esim.iccid, esim.smdp_address, esim.matching_id) == (
        "8944465400000000001",
        "lpa.airalo.com",
        "MATCH-1",
    )
    assert esim.activation_code == "LPA:1$lpa.airalo.com$MATCH-1"
    assert esim.apple_install_url.startswith("https://esimsetup.apple.com/")
    assert placed.total == Money(360, "USD")
    assert placed.created_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@responses.activate
def test_a_timed_out_order_is_not_retried(airalo):
    import requests as rq

    token_mock()
    call = responses.post(f"{BASE}/orders", body=rq.ReadTimeout("slow"))
    with pytest.raises(ProviderUnavailable):
        airalo.create_order(bundle_code="change-7days-1gb", quantity=1, reference="r")
    assert call.call_count == 1  # it may have bought: find_order decides


@responses.activate
def test_large_orders_go_async_with_our_webhook(airalo, settings):
    settings.AIRALO_ASYNC_ORDER_THRESHOLD = 10
    settings.AIRALO_WEBHOOK_URL = "https://ttelgo.example/api/v1/webhooks/airalo"
    token_mock()
    responses.post(
        f"{BASE}/orders-async",
        status=202,
        json={"data": {"request_id": "r" * 25, "accepted_at": "2026-12-07 10:00:00"}},
        match=[
            matchers.json_params_matcher(
                {
                    "quantity": 12,
                    "package_id": "p",
                    "type": "sim",
                    "description": "ref",
                    "webhook_url": settings.AIRALO_WEBHOOK_URL,
                }
            )
        ],
    )
    placed = airalo.create_order(bundle_code="p", quantity=12, reference="ref")
    assert placed.status == "processing" and not placed.is_complete
    assert placed.reference == f"async:{'r' * 25}:ref"
    # Airalo has not created it yet: still processing, never "nothing bought"
    listing = responses.get(f"{BASE}/orders", json={"data": [], "meta": {"last_page": 1}})
    waiting = airalo.get_order(placed.reference)
    assert waiting.status == "processing" and waiting.reference == placed.reference
    # created: the order under our reference, with its eSIMs and Airalo's id
    sims = [sim(str(i)) for i in range(12)]
    listing.body = json.dumps(
        {"data": [order(70, description="ref", quantity=12, sims=sims)], "meta": {"last_page": 1}}
    )
    done = airalo.get_order(placed.reference)
    assert done.is_complete and done.reference == "70"


def test_more_than_the_order_maximum_is_refused_without_a_call(airalo):
    with pytest.raises(ProviderRejected):
        airalo.create_order(bundle_code="p", quantity=51, reference="ref")


@responses.activate
def test_find_order_filters_by_our_reference(airalo):
    token_mock()
    responses.get(
        f"{BASE}/orders",
        json={
            "data": [order(5, description="ttelgo-order-3", quantity="1")],
            "meta": {"last_page": 1},
        },
        match=[
            matchers.query_param_matcher(
                {"filter[description]": "ttelgo-order-3", "include": "sims,status"},
                strict_match=False,
            )
        ],
    )
    found = airalo.find_order("ttelgo-order-3", since=datetime(2026, 12, 7, tzinfo=UTC))
    assert found is not None and found.reference == "5" and found.is_complete


@responses.activate
def test_find_order_ignores_another_reference(airalo):
    token_mock()
    responses.get(
        f"{BASE}/orders",
        json={"data": [order(5, description="ttelgo-order-33")], "meta": {"last_page": 1}},
    )
    assert airalo.find_order("ttelgo-order-3") is None


@responses.activate
def test_async_order_webhook_payload_maps_to_an_order(airalo):
    placed = airalo.order_from_webhook(
        {**order(8, quantity=2, sims=[sim("1"), sim("2")]), "request_id": "x" * 25}
    )
    assert placed.is_complete and [e.iccid for e in placed.esims] == ["1", "2"]


# --- eSIMs, usage, top-ups, refunds -------------------------------------------------------
@responses.activate
def test_usage_maps_and_is_cached_per_iccid(airalo):
    token_mock()
    history = responses.get(
        f"{BASE}/sims/8944/packages",
        json={
            "data": [
                {
                    "id": 1,
                    "status": "ACTIVE",
                    "remaining": 800,
                    "activated_at": "2026-12-07 10:00:00",
                    "expired_at": None,
                    "package": {"id": "change-7days-1gb", "amount": 1024, "is_unlimited": False},
                }
            ]
        },
    )
    usage = responses.get(
        f"{BASE}/sims/8944/usage",
        json={
            "data": {
                "remaining": 500,
                "total": 1024,
                "expired_at": "2026-12-14 10:00:00",
                "is_unlimited": False,
                "status": "ACTIVE",
            }
        },
    )
    (bundle,) = airalo.get_usage("8944")
    assert (bundle.bundle_code, bundle.initial_mb, bundle.remaining_mb, bundle.state) == (
        "change-7days-1gb",
        1024,
        500,
        "active",
    )
    assert bundle.expires_at == datetime(2026, 12, 14, 10, 0, tzinfo=UTC)
    airalo.get_usage("8944")
    assert (history.call_count, usage.call_count) == (1, 1)


@responses.activate
def test_usage_unknown_iccid_is_not_found(airalo):
    from providers import ProviderNotFound

    token_mock()
    responses.get(
        f"{BASE}/sims/1/packages",
        status=404,
        json={"data": [], "meta": {"message": "messages.resource_not_found"}},
    )
    with pytest.raises(ProviderNotFound):
        airalo.get_usage("1")


@responses.activate
def test_topup_compatibility_and_order(airalo):
    token_mock()
    responses.get(
        f"{BASE}/sims/8944/topups",
        json={"data": [{**package("change-7days-1gb-topup"), "type": "topup"}]},
    )
    assert airalo.bundle_compatible(iccid="8944", bundle_code="change-7days-1gb")
    assert not airalo.bundle_compatible(iccid="8944", bundle_code="other-30days-3gb")
    responses.post(
        f"{BASE}/orders/topups",
        json={
            "data": {
                **order(77, description="ttelgo-order-9", sims=[]),
                "type": "topup",
                "package_id": "change-7days-1gb-topup",
            }
        },
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "package_id": "change-7days-1gb-topup",
                    "iccid": "8944",
                    "description": "ttelgo-order-9",
                }
            )
        ],
    )
    result = airalo.apply_topup(
        iccid="8944", bundle_code="change-7days-1gb", reference="ttelgo-order-9"
    )
    assert (result.reference, result.status, result.cost) == ("77", "completed", Money(360, "USD"))


@responses.activate
def test_install_instructions_and_esim(airalo):
    token_mock()
    responses.get(
        f"{BASE}/sims/8944/instructions",
        json={"data": {"instructions": {"language": "EN", "ios": [], "android": []}}},
    )
    responses.get(
        f"{BASE}/sims/8944",
        json={
            "data": {**sim("8944"), "recycled": True, "simable": {"description": "ttelgo-order-1"}}
        },
    )
    assert airalo.install_instructions("8944")["language"] == "EN"
    esim = airalo.get_esim("8944")
    assert (esim.profile_status, esim.customer_ref, esim.smdp_address) == (
        "Recycled",
        "ttelgo-order-1",
        "lpa.airalo.com",
    )


@responses.activate
def test_refund_request(airalo):
    token_mock()
    responses.post(
        f"{BASE}/refund",
        status=202,
        json={"data": {"refund_id": "rf-1", "created_at": "2026-12-07 10:00:00"}},
        match=[
            matchers.json_params_matcher(
                {
                    "iccids": ["8944"],
                    "reason": "CHANGE_OF_PLAN",
                    "notes": "unused p, not delivered to a customer",
                }
            )
        ],
    )
    airalo.revoke_bundle(iccid="8944", bundle_code="p")
    with pytest.raises(ProviderRejected):
        airalo.refund_request(iccids=[str(i) for i in range(6)], reason="OTHERS")


# --- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "error", "skip"),
    [
        (11, ProviderNoCredit, True),
        (13, ProviderMaintenance, True),
        (33, ProviderOutOfStock, True),
        (34, ProviderOutOfStock, True),
        (73, ProviderIccidRecycled, False),
        (23, ProviderTopupDisabled, False),
        (43, ProviderRejected, False),
    ],
)
@pytest.mark.parametrize("status", [422, 200])
@responses.activate
def test_business_errors_map_to_ours(airalo, code, error, skip, status):
    token_mock()
    call = responses.post(f"{BASE}/orders", status=status, json={"code": code, "reason": "nope"})
    with pytest.raises(error) as caught:
        airalo.create_order(bundle_code="p", quantity=1, reference="r")
    assert type(caught.value) is error
    assert caught.value.skip_provider is skip
    assert call.call_count == 1


@responses.activate
def test_quantity_not_available_is_out_of_stock(airalo):
    token_mock()
    responses.post(
        f"{BASE}/orders",
        status=422,
        json={
            "data": {"quantity": "SIM quantity is not available. Available quantity: 9."},
            "meta": {"message": "the parameter is invalid"},
        },
    )
    with pytest.raises(ProviderOutOfStock):
        airalo.create_order(bundle_code="p", quantity=10, reference="r")


@responses.activate
def test_429_waits_what_it_asks_then_succeeds(tokens):
    cache.clear()
    sleeps: list[float] = []
    client = make_client(tokens=tokens, sleeps=sleeps.append)
    token_mock()
    responses.get(
        f"{BASE}/balance",
        status=429,
        json={"message": "Too Many Attempts."},
        headers={"Retry-After": "7"},
    )
    responses.get(f"{BASE}/balance", json={"data": {"balances": {}}})
    client.balance()
    assert sleeps == [7.0]


@responses.activate
def test_rate_limited_to_the_end_is_a_rate_limit_error(airalo):
    token_mock()
    responses.get(f"{BASE}/balance", status=429, json={"message": "Too Many Attempts."})
    with pytest.raises(ProviderRateLimited):
        airalo.balance()


@responses.activate
def test_maintenance_does_not_open_the_breaker_but_5xx_does(tokens):
    cache.clear()
    breaker = build_breaker(
        name=f"t-{uuid.uuid4().hex}", fail_max=2, reset_timeout=60, redis_url=""
    )
    client = make_client(tokens=tokens, breaker=breaker, max_attempts=1)
    token_mock()
    responses.post(f"{BASE}/orders", status=422, json={"code": 13, "reason": "maintenance"})
    for _ in range(3):
        with pytest.raises(ProviderMaintenance):
            client.create_order(bundle_code="p", quantity=1, reference="r")
    responses.get(f"{BASE}/balance", status=503)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            client.balance()
    with pytest.raises(CircuitOpen):
        client.balance()


# --- webhook signatures ------------------------------------------------------------------------
def test_signature_of_the_raw_body():
    body = b'{"request_id":"abc","data":{"id":1}}'
    good = hmac.new(SECRET.encode(), body, hashlib.sha512).hexdigest()
    assert airalo_signature_valid(body=body, signature=good, secret=SECRET)
    assert not airalo_signature_valid(body=body, signature=good, secret="other")
    assert not airalo_signature_valid(body=body + b" ", signature="0" * 128, secret=SECRET)
    assert not airalo_signature_valid(body=body, signature="", secret=SECRET)


def test_signature_of_the_php_encoded_body():
    """Airalo's SDKs hash the body re-encoded by PHP: compact, `/` escaped."""
    payload = {"url": "https://a/b", "level": "90%"}
    body = json.dumps(payload, indent=2).encode()
    php = b'{"url":"https:\\/\\/a\\/b","level":"90%"}'
    good = hmac.new(SECRET.encode(), php, hashlib.sha512).hexdigest()
    assert airalo_signature_valid(body=body, signature=good, secret=SECRET)


@responses.activate
def test_an_async_order_not_found_yet_is_not_nothing_bought(airalo, settings):
    """Its 202 may have been lost: within the grace, finding nothing is not an answer."""
    from datetime import timedelta

    settings.AIRALO_ASYNC_ORDER_THRESHOLD = 10
    settings.AIRALO_WEBHOOK_URL = "https://ttelgo.example/api/v1/webhooks/airalo"
    token_mock()
    responses.get(f"{BASE}/orders", json={"data": [], "meta": {"last_page": 1}})
    now = datetime.now(UTC)
    with pytest.raises(ProviderUnavailable):
        airalo.find_order("ref", since=now - timedelta(minutes=1), quantity=12)
    assert airalo.find_order("ref", since=now - timedelta(minutes=20), quantity=12) is None
    assert airalo.find_order("ref", since=now - timedelta(minutes=1), quantity=2) is None


@responses.activate
def test_find_order_reads_every_page_for_the_exact_reference(airalo):
    token_mock()
    responses.get(
        f"{BASE}/orders",
        json={"data": [order(30, description="ttelgo-order-30")], "meta": {"last_page": 2}},
        match=[matchers.query_param_matcher({"page": "1"}, strict_match=False)],
    )
    responses.get(
        f"{BASE}/orders",
        json={"data": [order(3, description="ttelgo-order-3")], "meta": {"last_page": 2}},
        match=[matchers.query_param_matcher({"page": "2"}, strict_match=False)],
    )
    found = airalo.find_order("ttelgo-order-3")
    assert found is not None and found.reference == "3"
