"""Parallel refunds of one unused eSIM on real PostgreSQL connections: 20 requests at
once, each with its own Idempotency-Key, pay one eSIM's share back once, revoke it at
the provider once and refund the card once; the others are refused
(`refund_not_allowed`), and the ledger stays sound. Five runs per endpoint.

Before the refund was claimed with a conditional update and its money keyed by its id,
every request that saw the refund still `requested` carried it out again: 5 to 10
payouts of 20."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from rest_framework.test import APIClient

from billing.selectors import vendor_balance
from fulfilment.models import Esim, EsimRefund
from ledger.integrity import ledger_integrity_check
from ledger.models import Transaction
from orders.models import Order
from payments.models import Payment, Refund
from sandbox.models import SandboxRefund
from sandbox.provider import SandboxProvider
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import bundles_create, customer_client, fund, vendor_client
from tests.orders.helpers import key
from vendors.models import Vendor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20
RUNS = 5


class Revocations:
    """Counts the sandbox provider's revoke calls per ICCID, from any thread."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def patch(self) -> Any:
        real = SandboxProvider.revoke_bundle

        def revoke_bundle(provider: SandboxProvider, *, iccid: str, bundle_code: str) -> None:
            with self.lock:
                self.calls[iccid] += 1
            real(provider, iccid=iccid, bundle_code=bundle_code)

        return mock.patch.object(SandboxProvider, "revoke_bundle", revoke_bundle)


def _refund_race(credentials: str, path: str) -> Counter[tuple[int, str]]:
    """THREADS requests released together, each on its own client and connection."""
    barrier = threading.Barrier(THREADS)
    answers: Counter[tuple[int, str]] = Counter()
    lock = threading.Lock()

    def ask() -> None:
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

    threads = [threading.Thread(target=ask) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return answers


def _assert_one_winner(answers: Counter[tuple[int, str]]) -> None:
    assert answers[(201, "refunded")] == 1, answers
    refused = {k: v for k, v in answers.items() if k != (201, "refunded")}
    assert set(refused) <= {(409, "already_requested"), (409, "revoked")}, answers
    assert sum(answers.values()) == THREADS


def test_parallel_vendor_refunds_of_one_esim_pay_once():
    bundles_create()
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    client = vendor_client(vendor)
    response = client.post(
        "/api/v1/vendor/orders",
        {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": RUNS},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key(),
    )
    assert response.status_code == 201, response.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED
    esims = list(Esim.objects.filter(order=order).order_by("id"))
    revocations = Revocations()
    with revocations.patch():
        for run, esim in enumerate(esims, start=1):
            share = order.total // RUNS  # equal shares
            before = vendor_balance(vendor=vendor).available.amount
            answers = _refund_race(
                client._credentials["HTTP_AUTHORIZATION"],  # type: ignore[attr-defined]
                f"/api/v1/vendor/esims/{esim.iccid}/refund",
            )
            _assert_one_winner(answers)
            assert vendor_balance(vendor=vendor).available.amount == before + share
            refunds = Transaction.objects.filter(
                order_id=order.pk, kind=Transaction.Kind.ORDER_REFUND
            )
            assert refunds.count() == run
            assert revocations.calls[esim.iccid] == 1
            assert EsimRefund.objects.filter(esim=esim).count() == 1
            assert ledger_integrity_check() == []
    assert vendor_balance(vendor=vendor).available.amount == 100_000
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED


def test_parallel_customer_refunds_of_one_esim_refund_the_card_once():
    bundles_create()
    user = UserFactory()
    client = customer_client(user)
    response = client.post(
        "/api/v1/orders",
        {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": RUNS},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key(),
    )
    assert response.status_code == 201, response.content
    intent = response.json()["payment"]["payment_intent_id"]
    paid = client.post(f"/api/v1/sandbox/payment_intents/{intent}/succeed")
    assert paid.status_code == 200, paid.content
    order = Order.objects.get(pk=response.json()["id"])
    assert order.status == Order.Status.COMPLETED
    payment = Payment.objects.get(order=order)
    esims = list(Esim.objects.filter(order=order).order_by("id"))
    revocations = Revocations()
    with revocations.patch():
        for run, esim in enumerate(esims, start=1):
            answers = _refund_race(
                client._credentials["HTTP_AUTHORIZATION"],  # type: ignore[attr-defined]
                f"/api/v1/esims/{esim.iccid}/refund",
            )
            _assert_one_winner(answers)
            payment.refresh_from_db()
            assert payment.refunded_amount == run * (order.total // RUNS)
            assert SandboxRefund.objects.filter(payment_intent_id=intent).count() == run
            assert Refund.objects.filter(payment=payment).count() == run
            assert revocations.calls[esim.iccid] == 1
            assert ledger_integrity_check() == []
    payment.refresh_from_db()
    assert payment.refunded_amount == payment.amount
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED


def test_parallel_approvals_of_a_held_esim_refund_pay_once():
    """Twenty operators approve one request held for review at once: one carries it out,
    the others are told it is no longer in review."""
    from fulfilment.refunds import operator_esim_refund_approve
    from tests.console.factories import operator
    from ttelgo.errors import DomainError

    bundles_create()
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    client = vendor_client(vendor)
    response = client.post(
        "/api/v1/vendor/orders",
        {"bundle_code": "esim_1GB_7D_GB_V2", "quantity": 2},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key(),
    )
    order = Order.objects.get(pk=response.json()["id"])
    Order.objects.filter(pk=order.pk).update(disputed_at=order.updated_at)
    esim = Esim.objects.filter(order=order).order_by("id").first()
    assert esim is not None
    held = client.post(
        f"/api/v1/vendor/esims/{esim.iccid}/refund",
        {"reason": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key(),
    )
    assert held.json()["status"] == "in_review", held.content
    operators = [operator("finance") for _ in range(THREADS)]
    before = vendor_balance(vendor=vendor).available.amount
    barrier = threading.Barrier(THREADS)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def approve(actor: Any) -> None:
        try:
            barrier.wait()
            try:
                done = operator_esim_refund_approve(
                    refund_id=held.json()["id"], actor=actor, note="ok"
                )
                outcome = done.status
            except DomainError as exc:
                outcome = exc.code
            with lock:
                outcomes[outcome] += 1
        finally:
            connection.close()

    revocations = Revocations()
    with revocations.patch():
        threads = [threading.Thread(target=approve, args=(a,)) for a in operators]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert outcomes == {"refunded": 1, "invalid_state": THREADS - 1}, outcomes
    assert vendor_balance(vendor=vendor).available.amount == before + order.total // 2
    assert revocations.calls[esim.iccid] == 1
    assert Transaction.objects.filter(order_id=order.pk, kind="order_refund").count() == 1
    assert ledger_integrity_check() == []
