"""A request refused before it started leaves its Idempotency-Key free (as Stripe): an
order for an unknown bundle, then the corrected body with the same key, places the order;
the same key and body sent again and at once still place it once."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from orders.models import Order
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, customer_client, fund
from tests.orders.factories import vendor_client as client_for
from ttelgo.models import IdempotencyKey


@pytest.fixture
def bundles(db):
    return bundles_create()


def _order(client, body, key):
    return client.post("/api/v1/vendor/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_an_unknown_bundle_then_the_corrected_order_with_the_same_key(
    bundles, django_capture_on_commit_callbacks
):
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    client = client_for(vendor)
    assert _order(client, {"bundle_code": "nope", "quantity": 1}, "k-1").status_code == 404
    assert _order(client, {"bundle_code": BUNDLE_CODE, "qty": 1}, "k-1").status_code == 400
    assert not IdempotencyKey.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        placed = _order(client, {"bundle_code": BUNDLE_CODE, "quantity": 1}, "k-1")
    assert placed.status_code == 201, placed.content
    again = _order(client, {"bundle_code": BUNDLE_CODE, "quantity": 1}, "k-1")
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == placed.json()["id"]
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_a_customer_order_for_an_unknown_bundle_leaves_the_key_free(bundles):
    client = customer_client(UserFactory())
    key = str(uuid.uuid4())
    body = {"bundle_code": "nope", "quantity": 1}
    refused = client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert refused.status_code == 404
    body["bundle_code"] = BUNDLE_CODE
    placed = client.post("/api/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert placed.status_code == 201, placed.content


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_key_sent_at_once_with_refused_and_valid_bodies_places_one_order(bundles):
    vendor = VendorFactory(currency="USD")
    fund(vendor, 1_000_000)
    barrier = threading.Barrier(12)

    def one(i):
        body = {"bundle_code": BUNDLE_CODE if i % 2 else "nope", "quantity": 1}
        try:
            client = client_for(vendor)
            barrier.wait()
            response = _order(client, body, "k-race")
            return i % 2, response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(one, range(12)))
    # A valid request that met a refused one holding the key is told the key is in use
    # (or used with another body); once the refused ones let go, the key places one order.
    assert Order.objects.count() <= 1
    allowed = {(409, "idempotency_key_in_use"), (422, "idempotency_key_reused")}
    for valid, status, body in results:
        if status in (404, 201):
            assert (status == 201) == bool(valid), body
        else:
            assert (status, body["error"]["code"]) in allowed, body
    after = _order(client_for(vendor), {"bundle_code": BUNDLE_CODE, "quantity": 1}, "k-race")
    assert after.status_code == 201, after.content
    assert Order.objects.count() == 1 and after.json()["id"] == Order.objects.get().pk
    created = [body["id"] for valid, status, body in results if status == 201]
    assert all(order_id == after.json()["id"] for order_id in created)


@pytest.mark.django_db
def test_a_key_freed_between_the_claims_insert_and_its_read_is_claimed_again(monkeypatch):
    """A request refused before it started frees its key; one that collided with it a
    moment earlier finds no row when it reads the key, and claims it again (it used to
    answer 500)."""
    from ttelgo import idempotency, sql

    real_insert = sql.insert_or_skip
    collisions = iter([False])  # the first insert meets a holder that is gone at the read

    def insert_or_skip(obj):
        return next(collisions, True) and real_insert(obj)

    monkeypatch.setattr(idempotency.sql, "insert_or_skip", insert_or_skip)
    claim = idempotency.idempotency_claim(
        scope="vendor:1", key="k-freed", method="POST", path="/x", fingerprint="f"
    )
    assert claim.replay is None
    assert IdempotencyKey.objects.filter(key="k-freed", pk=claim.record.pk).exists()


@pytest.mark.django_db
def test_a_key_that_keeps_vanishing_is_in_use_not_a_500(monkeypatch):
    from ttelgo import idempotency
    from ttelgo.errors import DomainError

    monkeypatch.setattr(idempotency.sql, "insert_or_skip", lambda obj: False)
    with pytest.raises(DomainError) as refused:
        idempotency.idempotency_claim(
            scope="vendor:1", key="k-gone", method="POST", path="/x", fingerprint="f"
        )
    assert refused.value.code == "idempotency_key_in_use"
