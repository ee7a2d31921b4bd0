"""The bench's fake upstreams speak what the real clients expect: the production eSIM Go
client and Stripe gateway run against them unchanged in `make bench`."""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator

import pytest

from bench.fakes import AiraloApp, FakeServer, build
from bench.procs import free_port
from payments.gateways.stripe import StripeGateway
from providers.airalo import AiraloProvider
from providers.base import (
    ProviderMaintenance,
    ProviderNoCredit,
    ProviderOutOfStock,
    ProviderUnavailable,
)
from providers.esimgo import EsimGoProvider
from providers.ratelimit import UnlimitedLimiter
from providers.resilience import build_breaker
from providers.tokens import TokenCache
from ttelgo.money import Money


@pytest.fixture
def fake() -> Iterator[Callable[[str], str]]:
    servers: list[FakeServer] = []

    def start(kind: str) -> str:
        server = build(kind, free_port())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_esimgo_client_reads_the_fake_catalogue_and_buys_from_it(fake):
    client = EsimGoProvider(api_key="bench-key", base_url=fake("esimgo"), max_attempts=1)
    bundles = {b.code: b for b in client.list_bundles()}
    assert len(bundles) == 100
    gb = bundles["esim_1GB_7D_GB_V2"]
    assert (gb.data_mb, gb.validity_days, gb.cost) == (1000, 7, Money(120, "USD"))
    assert gb.countries[0].iso == "GB"

    order = client.create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=2, reference="order-7")
    assert order.is_complete and len(order.esims) == 2
    assert client.get_esim(order.esims[0].iccid).customer_ref == "order-7"
    assert client.get_order(order.reference).reference == order.reference


def test_stripe_gateway_creates_reads_and_refunds_against_the_mock(fake):
    base = fake("stripe")
    gateway = StripeGateway(api_key="sk_test_bench", api_base=base)
    intent = gateway.create_payment_intent(
        amount=Money(450, "USD"), metadata={"order_id": "9"}, idempotency_key="order-9"
    )
    assert intent.status == "requires_payment_method" and intent.metadata == {"order_id": "9"}
    again = gateway.create_payment_intent(
        amount=Money(450, "USD"), metadata={"order_id": "9"}, idempotency_key="order-9"
    )
    assert again.id == intent.id  # Stripe's idempotency keys: one intent per key

    import urllib.request

    req = urllib.request.Request(
        f"{base}/__bench/succeed/{intent.id}", method="POST",
        headers={"Authorization": "Bearer sk_test_bench"},
    )  # fmt: skip
    urllib.request.urlopen(req, timeout=5).close()
    paid = gateway.retrieve_payment_intent(intent.id)
    assert (paid.status, paid.amount, paid.currency) == ("succeeded", 450, "USD")
    refund = gateway.refund(
        payment_intent_id=intent.id, amount=None, idempotency_key="r-1", reason="x"
    )
    assert refund.amount == 450
    assert [r.id for r in gateway.list_refunds(payment_intent_id=intent.id)] == [refund.id]


def _airalo_client(base: str) -> AiraloProvider:
    return AiraloProvider(
        client_id=AiraloApp.CLIENT_ID,
        client_secret="bench-secret",
        base_url=f"{base}/v2",
        currency="USD",
        max_attempts=1,
        breaker=build_breaker(
            name=f"t-{uuid.uuid4().hex}", fail_max=50, reset_timeout=60, redis_url=""
        ),
        limiter=UnlimitedLimiter(),
        token_limiter=UnlimitedLimiter(),
        packages_limiter=UnlimitedLimiter(),
        usage_limiter=UnlimitedLimiter(),
        refund_limiter=UnlimitedLimiter(),
        token_cache=TokenCache(
            name=f"t-{uuid.uuid4().hex}", client=None, max_age=86400, margin=3600
        ),
    )


def _post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())  # type: ignore[no-any-return]


def test_airalo_client_reads_the_fake_packages_buys_finds_and_refunds(fake, settings):
    settings.AIRALO_WEBHOOK_URL = ""  # no async orders
    base = fake("airalo")
    client = _airalo_client(base)
    bundles = {b.code: b for b in client.list_bundles()}
    assert len(bundles) == 105  # 20 countries as at eSIM Go, and one only Airalo sells
    gb = bundles["united-kingdom-7days-1gb"]
    assert (gb.data_mb, gb.validity_days, gb.cost) == (1024, 7, Money(132, "USD"))
    assert "iceland-7days-1gb" in bundles

    order = client.create_order(
        bundle_code="united-kingdom-7days-1gb", quantity=2, reference="ttelgo-order-7"
    )
    assert order.is_complete and len(order.esims) == 2
    assert order.esims[0].activation_code.startswith("LPA:1$")
    assert client.find_order("ttelgo-order-7").reference == order.reference
    assert client.find_order("ttelgo-order-77") is None
    assert client.find_order("ttelgo-order-") is None  # only the exact description
    assert client.get_order(order.reference).esims == order.esims
    assert client.get_esim(order.esims[0].iccid).customer_ref == "ttelgo-order-7"
    assert client.get_usage(order.esims[0].iccid)[-1].state == "queued"
    assert client.bundle_compatible(
        iccid=order.esims[0].iccid, bundle_code="united-kingdom-7days-1gb"
    )
    topup = client.apply_topup(
        iccid=order.esims[0].iccid, bundle_code="united-kingdom-7days-1gb", reference="t-1"
    )
    assert topup.status == "completed"
    assert client.refund_request(iccids=[order.esims[1].iccid], reason="CHANGE_OF_PLAN")
    before = client.balance()
    _post(f"{base}/__bench/credit", {"amount": "1.32"})
    assert client.balance() == before + Money(132, "USD")
    stats = _post(f"{base}/__bench/stats", {})
    assert stats["orders"] == 1 and stats["topups"] == 1 and stats["refunds"] == 1
    assert stats["token_requests"] == 1


def test_airalo_fake_faults_are_its_own_and_refuse_without_buying(fake, settings):
    settings.AIRALO_WEBHOOK_URL = ""
    esimgo_base, airalo_base = fake("esimgo"), fake("airalo")
    client = _airalo_client(airalo_base)
    esimgo = EsimGoProvider(api_key="bench-key", base_url=esimgo_base, max_attempts=1)
    _post(f"{esimgo_base}/__bench/faults", {"error_rate": 1, "error_status": 503})
    # eSIM Go down does not touch Airalo.
    assert client.create_order(
        bundle_code="france-7days-1gb", quantity=1, reference="r-1"
    ).is_complete
    with pytest.raises(ProviderUnavailable) as down:
        esimgo.create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=1, reference="r-2")
    assert down.value.status == 503
    for knob, error in (
        ("maintenance_rate", ProviderMaintenance),
        ("out_of_stock_rate", ProviderOutOfStock),
        ("no_credit_rate", ProviderNoCredit),
    ):
        _post(f"{airalo_base}/__bench/faults", {knob: 1})
        with pytest.raises(error) as refused:
            client.create_order(bundle_code="france-7days-1gb", quantity=1, reference="r-3")
        assert refused.value.skip_provider
    _post(f"{airalo_base}/__bench/faults", {"error_rate": 1, "error_status": 503})
    with pytest.raises(ProviderUnavailable):
        client.create_order(bundle_code="france-7days-1gb", quantity=1, reference="r-4")
    _post(f"{airalo_base}/__bench/faults", {})
    assert client.find_order("r-3") is None and client.find_order("r-4") is None
    assert _post(f"{airalo_base}/__bench/stats", {})["orders"] == 1
