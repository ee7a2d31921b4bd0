"""Parallel refunds of different eSIMs of one order, when the order has room left for only
some of them (an operator refunded part of it before): on real PostgreSQL connections,
five requests at once, one per eSIM. As many eSIMs are revoked as are paid back; the
others are refused before anything is revoked (`order_not_refundable`), as they are one
after the other.

Before a refund reserved its share under the order's lock, every request checked what
was left on its own, all ten passed, all ten eSIMs were revoked and only four paid back:
the customer lost six working eSIMs for nothing (found on a full stack: 8 to 10 revoked,
4 paid, in six runs)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from fulfilment.models import Esim, EsimRefund
from fulfilment.operator import operator_order_refund
from ledger.integrity import ledger_integrity_check
from orders.models import Order
from tests.console.factories import operator
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import bundles_create, customer_client, fund, vendor_client
from tests.orders.helpers import key
from ttelgo.money import Money
from vendors.models import Vendor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ESIMS = 5
ROOM_FOR = 2  # shares left on the order after the operator's partial refund


def _race(credentials: str, paths: list[str]) -> Counter[tuple[int, str]]:
    barrier = threading.Barrier(len(paths))
    answers: Counter[tuple[int, str]] = Counter()
    lock = threading.Lock()

    def ask(path: str) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=credentials)
        try:
            barrier.wait()
            response = client.post(
                path, {"reason": "plans changed"}, format="json", HTTP_IDEMPOTENCY_KEY=key()
            )
            body: Any = response.json()
            label = body.get("status") or body["error"].get("details", {}).get("reason", "")
            with lock:
                answers[(response.status_code, label)] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return answers


def _partly_refunded(order: Order) -> None:
    """Leave room for ROOM_FOR shares and a little more, not for ROOM_FOR + 1."""
    share = order.total // ESIMS
    operator_order_refund(
        order_id=order.pk,
        actor=operator("finance"),
        amount=Money(order.total - ROOM_FOR * share - share // 2, order.currency),
        reason="goodwill",
    )


def _assert_paid_as_revoked(order: Order, answers: Counter[tuple[int, str]]) -> None:
    assert answers[(201, "refunded")] == ROOM_FOR, answers
    assert set(answers) == {(201, "refunded"), (409, "order_not_refundable")}, answers
    revoked = Esim.objects.filter(order=order, status=Esim.Status.REVOKED).count()
    assert revoked == ROOM_FOR
    statuses = Counter(EsimRefund.objects.filter(order=order).values_list("status", flat=True))
    assert statuses[EsimRefund.Status.REFUNDED] == ROOM_FOR, statuses
    assert not statuses[EsimRefund.Status.REQUESTED], statuses  # none owed, revoked unpaid
    assert not statuses[EsimRefund.Status.REFUNDING], statuses
    assert ledger_integrity_check() == []


def test_parallel_vendor_refunds_of_different_esims_revoke_only_what_is_paid():
    bundles_create()
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    client = vendor_client(vendor)
    response = client.post(
        "/api/v1/vendor/orders",
        {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": ESIMS},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key(),
    )
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED
    _partly_refunded(order)
    iccids = Esim.objects.filter(order=order).values_list("iccid", flat=True)
    answers = _race(
        client._credentials["HTTP_AUTHORIZATION"],  # type: ignore[attr-defined]
        [f"/api/v1/vendor/esims/{iccid}/refund" for iccid in iccids],
    )
    _assert_paid_as_revoked(order, answers)


def test_parallel_customer_refunds_of_different_esims_revoke_only_what_is_paid():
    bundles_create()
    user = UserFactory()
    client = customer_client(user)
    response = client.post(
        "/api/v1/orders",
        {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": ESIMS},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key(),
    )
    assert response.status_code == 201, response.content
    intent = response.json()["payment"]["payment_intent_id"]
    assert client.post(f"/api/v1/sandbox/payment_intents/{intent}/succeed").status_code == 200
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED
    _partly_refunded(order)
    iccids = Esim.objects.filter(order=order).values_list("iccid", flat=True)
    answers = _race(
        client._credentials["HTTP_AUTHORIZATION"],  # type: ignore[attr-defined]
        [f"/api/v1/esims/{iccid}/refund" for iccid in iccids],
    )
    _assert_paid_as_revoked(order, answers)
