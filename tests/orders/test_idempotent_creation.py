"""Order creation under one Idempotency-Key: one order and one PaymentIntent, whatever the
number of identical requests racing; another body under the same key is refused."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from orders.models import Order
from payments.models import Payment
from sandbox.models import SandboxPaymentIntent
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, customer_client

BODY = {"bundle_code": BUNDLE_CODE, "quantity": 2}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_50_concurrent_identical_posts_make_one_order_and_one_payment_intent():
    bundles_create()
    user = UserFactory()
    clients = [customer_client(user) for _ in range(50)]
    barrier = threading.Barrier(len(clients))
    results: list[tuple[int, dict, str | None]] = []
    lock = threading.Lock()

    def send(client) -> None:
        try:
            barrier.wait()
            response = client.post(
                "/api/v1/orders", BODY, format="json", HTTP_IDEMPOTENCY_KEY="same-key-50"
            )
            with lock:
                results.append(
                    (response.status_code, response.json(), response.get("Idempotent-Replayed"))
                )
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(results) == 50
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1
    assert SandboxPaymentIntent.objects.count() == 1
    order = Order.objects.get()
    created = [body for code, body, _ in results if code == 201]
    in_use = [body for code, body, _ in results if code == 409]
    assert len(created) + len(in_use) == 50, [code for code, _, _ in results]
    assert created, "at least the first request succeeds"
    assert all(body == created[0] for body in created)  # replays are identical
    assert created[0]["id"] == order.pk
    assert sum(1 for code, _, replayed in results if code == 201 and replayed != "true") == 1
    assert all(body["error"]["code"] == "idempotency_key_in_use" for body in in_use)


@pytest.mark.django_db
def test_same_key_with_another_body_is_422_and_creates_nothing(
    customer, bundles, django_capture_on_commit_callbacks
):
    first = customer.post("/api/v1/orders", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    replay = customer.post("/api/v1/orders", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()

    other = customer.post(
        "/api/v1/orders", {**BODY, "quantity": 3}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_from_another_customer_is_a_separate_order(customer, other_customer, bundles):
    a = customer.post("/api/v1/orders", BODY, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    b = other_customer.post("/api/v1/orders", BODY, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert Order.objects.count() == 2
