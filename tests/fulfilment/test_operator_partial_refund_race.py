"""Operators' partial refunds of one order at the same moment, on real PostgreSQL
connections: each was decided on as partial (what it saw left was more), so none took
the eSIMs back; together they must not empty the order. The one that would take the
last of it is refused under the lock, and the operator refunds the rest in full, which
revokes the eSIMs first, as one after the other would have.

Before, four parallel refunds of a quarter each refunded the order in full with every
eSIM still working (found on a full stack: the console's forms, 10 parallel partial
refunds, 0 eSIMs revoked on a refunded order, and reconciliation then said "the provider
delivered ... for order N, which is refunded: we paid for eSIMs nobody got")."""

from __future__ import annotations

import threading
from typing import Any
from unittest import mock

import pytest
from django.db import connection

from fulfilment import operator as operator_module
from fulfilment.models import Esim
from fulfilment.operator import operator_order_refund
from ledger.integrity import ledger_integrity_check
from orders.models import Order
from tests.console.factories import operator
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import bundles_create, customer_client, fund, vendor_client
from tests.orders.helpers import key
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.models import Vendor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARTS = 4


def _race(order: Order) -> list[Any]:
    """PARTS refunds of a quarter each; every one has made its checks (and found itself
    partial) before any money moves."""
    actor = operator("finance")
    share = order.total // PARTS
    barrier = threading.Barrier(PARTS)
    real = operator_module._take_back
    outcomes: list[Any] = []
    lock = threading.Lock()

    def take_back(order: Order, *, full: bool, actor: Any) -> None:
        barrier.wait(30)
        real(order, full=full, actor=actor)

    def refund() -> None:
        try:
            result: Any = operator_order_refund(
                order_id=order.pk,
                actor=actor,
                amount=Money(share, order.currency),
                reason="goodwill",
            )
        except DomainError as exc:
            result = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    with mock.patch.object(operator_module, "_take_back", take_back):
        threads = [threading.Thread(target=refund) for _ in range(PARTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    return outcomes


def _assert_not_emptied(order: Order, outcomes: list[Any]) -> None:
    assert sorted(o for o in outcomes if isinstance(o, str)) == ["invalid_state"], outcomes
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    assert not Esim.objects.filter(order=order, status=Esim.Status.REVOKED).exists()
    # The rest, refunded in full, takes the eSIMs back first.
    operator_order_refund(order_id=order.pk, actor=operator("finance"), amount=None, reason="r")
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert Esim.objects.filter(order=order).exclude(status=Esim.Status.REVOKED).count() == 0
    assert ledger_integrity_check() == []


def test_parallel_partial_refunds_of_a_vendor_order_never_empty_it_with_esims_kept():
    bundles_create()
    vendor: Vendor = VendorFactory(  # type: ignore[assignment]
        billing_mode=Vendor.BillingMode.PREPAID, currency="USD"
    )
    fund(vendor, 100_000)
    response = vendor_client(vendor).post(
        "/api/v1/vendor/orders",
        {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": PARTS},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key(),
    )
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED
    _assert_not_emptied(order, _race(order))


def test_parallel_partial_refunds_of_a_card_order_never_empty_it_with_esims_kept():
    bundles_create()
    client = customer_client(UserFactory())
    response = client.post(
        "/api/v1/orders",
        {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": PARTS},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key(),
    )
    assert response.status_code == 201, response.content
    intent = response.json()["payment"]["payment_intent_id"]
    assert client.post(f"/api/v1/sandbox/payment_intents/{intent}/succeed").status_code == 200
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED
    _assert_not_emptied(order, _race(order))


def test_parallel_partial_refunds_of_a_taxed_order_give_its_vat_back_once(settings):
    """The same race on a taxed sale: the VAT the refunds give back follows the refunded
    running total under the order's lock, never more than was collected, all of it once
    the order is refunded in full (tax_payable for the order back to 0)."""
    from django.db.models import Sum

    from ledger.models import Entry, Purpose
    from orders.services import order_tax_refund_due

    settings.PLATFORM_COUNTRY = "IE"
    settings.PLATFORM_VAT_NUMBER = "IE6388047V"
    bundles_create()
    vendor: Vendor = VendorFactory(  # type: ignore[assignment]
        billing_mode=Vendor.BillingMode.PREPAID, currency="USD", country="DE"
    )
    fund(vendor, 100_000)
    response = vendor_client(vendor).post(
        "/api/v1/vendor/orders",
        {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": PARTS},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key(),
    )
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.tax_amount > 0

    def tax_moves() -> tuple[int, int]:
        rows = Entry.objects.filter(
            transaction__order_id=order.pk, account__purpose=Purpose.TAX_PAYABLE
        )
        given = rows.filter(amount__gt=0).aggregate(s=Sum("amount"))["s"] or 0
        refunded = (
            Entry.objects.filter(
                transaction__order_id=order.pk,
                account__purpose=Purpose.REFUNDS,
                transaction__kind="order_refund",
            ).aggregate(s=Sum("amount"))["s"]
            or 0
        )
        return int(given), int(refunded)

    outcomes = _race(order)
    given, refunded = tax_moves()
    assert 0 < refunded < order.total, outcomes
    assert given == order_tax_refund_due(tax=order.tax_amount, total=order.total, refunded=refunded)
    assert given <= order.tax_amount
    operator_order_refund(order_id=order.pk, actor=operator("finance"), amount=None, reason="r")
    given, refunded = tax_moves()
    assert (given, refunded) == (order.tax_amount, order.total)
    assert ledger_integrity_check() == []
