"""The bench's fake upstreams speak what the real clients expect: the production eSIM Go
client and Stripe gateway run against them unchanged in `make bench`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from bench.fakes import FakeServer, build
from bench.procs import free_port
from payments.gateways.stripe import StripeGateway
from providers.esimgo import EsimGoProvider
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
