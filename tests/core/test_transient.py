"""Transient faults never answer 500: a lost deadlock re-runs the request, an outage is a
503 `temporarily_unavailable` with Retry-After, and tasks retry database faults at once."""

from __future__ import annotations

import json
import uuid
from unittest import mock

import psycopg.errors
import pytest
from django.db import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError

from billing import services as ledger_services
from ledger.models import Hold
from orders.models import Order
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund, vendor_client
from ttelgo.transient import REQUEST_RETRIES, is_conflict, is_transient
from ttelgo.views import json_500

pytestmark = pytest.mark.django_db(transaction=True)


def deadlock() -> OperationalError:
    """What Django raises for PostgreSQL's deadlock_detected (40P01)."""
    error = OperationalError("deadlock detected")
    error.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return error


@pytest.fixture
def vendor():
    bundles_create()
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    return vendor_client(vendor)


def _order(client, key: str):
    return client.post(
        "/api/v1/vendor/orders",
        {"bundle_code": BUNDLE_CODE, "quantity": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def _reserve_failing(times: int):
    real = ledger_services.vendor_order_reserve
    calls = {"n": 0}

    def reserve(**kwargs):
        calls["n"] += 1
        if calls["n"] <= times:
            raise deadlock()
        return real(**kwargs)

    return mock.patch("orders.services.vendor_order_reserve", side_effect=reserve), calls


def test_conflicts_and_outages_are_told_apart():
    assert is_conflict(deadlock())
    serialization = OperationalError("could not serialize access")
    serialization.__cause__ = psycopg.errors.SerializationFailure("x")
    assert is_conflict(serialization)
    refused = OperationalError("connection refused")
    assert not is_conflict(refused) and is_transient(refused)
    assert is_transient(RedisConnectionError("down"))
    assert not is_transient(ValueError("a bug"))


def test_an_order_that_loses_a_deadlock_is_run_again_and_answered_201(vendor):
    patch, calls = _reserve_failing(times=2)
    with patch:
        response = _order(vendor, str(uuid.uuid4()))
    assert response.status_code == 201, response.content
    assert calls["n"] == 3  # two lost runs, rolled back whole, and the one that counted
    assert Order.objects.count() == 1
    assert Hold.objects.count() == 1


def test_an_order_that_keeps_losing_is_a_503_and_its_key_is_free_for_the_retry(vendor):
    key = str(uuid.uuid4())
    patch, calls = _reserve_failing(times=1_000)
    with patch:
        response = _order(vendor, key)
    assert calls["n"] == 1 + REQUEST_RETRIES
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    error = response.json()["error"]
    assert error["code"] == "temporarily_unavailable"
    assert error["request_id"] == response["X-Request-ID"]
    assert Order.objects.count() == 0  # nothing half-written

    retry = _order(vendor, key)  # the same key, once the conflict is gone
    assert retry.status_code == 201, retry.content
    assert Order.objects.count() == 1


def test_a_database_outage_is_a_503_not_a_500(vendor):
    refused = OperationalError("connection to server failed: Connection refused")
    with mock.patch("billing.selectors.vendor_balance", side_effect=refused):
        response = vendor.get("/api/v1/vendor/balance")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "temporarily_unavailable"
    assert response["Retry-After"] == "1"


def test_an_outage_below_the_api_layer_is_a_503_too(rf):
    """The database gone while a middleware (sessions, auth) reads it: Django's handler500
    runs inside the exception, and answers 503 for a transient one."""
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        api = json_500(rf.get("/api/v1/orders"))
        admin = json_500(rf.get("/admin/"))
    assert api.status_code == 503
    assert json.loads(api.content)["error"]["code"] == "temporarily_unavailable"
    assert (admin.status_code, admin["Retry-After"]) == (503, "1")
    try:
        raise ValueError("a bug")
    except ValueError:
        assert json_500(rf.get("/api/v1/orders")).status_code == 500


def test_a_task_retries_a_database_fault_at_once():
    from billing.tasks import vendor_low_balance_check

    vendor = VendorFactory(currency="USD")
    with mock.patch(
        "billing.tasks.low_balance_check",
        side_effect=[OperationalError("server closed the connection"), False],
    ) as check:
        # As a worker runs it (apply without eager propagation): the fault is retried.
        result = vendor_low_balance_check.apply(args=(vendor.pk,), throw=False)
    assert check.call_count == 2
    assert result.successful()
