"""Through the public API with real provisioning on the sandbox provider: buy, pay in the
sandbox, get the eSIM; refund it and see the ledger reversed; or decline and fail."""

from __future__ import annotations

import uuid

import pytest

from ledger.integrity import ledger_integrity_check
from ledger.models import Account, Purpose, Transaction
from ledger.selectors import account_balance
from payments.models import Payment
from payments.services import payment_refund_for_order
from sandbox.gateway import sandbox_card_fee
from sandbox.provider import sandbox_faults_reset
from tests.orders.factories import BUNDLE_CODE, RETAIL, bundles_create, customer_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(user):
    sandbox_faults_reset()
    bundles_create()
    yield customer_client(user)
    sandbox_faults_reset()


def _buy(client, capture) -> dict:
    with capture(execute=True):
        response = client.post(
            "/api/v1/orders",
            {"bundle_code": BUNDLE_CODE, "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
    assert response.status_code == 201, response.content
    return response.json()


def _sandbox(client, capture, order: dict, verb: str) -> None:
    pi = order["payment"]["payment_intent_id"]
    with capture(execute=True):
        response = client.post(f"/api/v1/sandbox/payment_intents/{pi}/{verb}")
    assert response.status_code == 200, response.content


def test_pay_get_esim_then_refund_reverses_the_ledger(client, django_capture_on_commit_callbacks):
    order = _buy(client, django_capture_on_commit_callbacks)
    assert order["status"] == "awaiting_payment"
    assert order["payment"]["client_secret"]

    _sandbox(client, django_capture_on_commit_callbacks, order, "succeed")

    detail = client.get(f"/api/v1/orders/{order['id']}").json()
    assert detail["status"] == "completed"
    assert len(detail["esims"]) == 1
    clearing = Account.objects.get(purpose=Purpose.STRIPE_CLEARING, currency="USD")
    # What the card paid, less the fee the gateway kept (booked from its balance transaction).
    fee = sandbox_card_fee(RETAIL[BUNDLE_CODE])
    assert account_balance(account=clearing).amount == RETAIL[BUNDLE_CODE] - fee

    with django_capture_on_commit_callbacks(execute=True):
        refund = payment_refund_for_order(order_id=order["id"], reason="customer asked")

    assert refund is not None and refund.amount == RETAIL[BUNDLE_CODE]
    assert client.get(f"/api/v1/orders/{order['id']}").json()["status"] == "refunded"
    assert account_balance(account=clearing).amount == -fee  # a refund does not return the fee
    assert (
        Transaction.objects.filter(order_id=order["id"], kind=Transaction.Kind.B2C_REFUND).count()
        == 1
    )
    assert ledger_integrity_check() == []


def test_a_declined_payment_leaves_the_order_waiting_for_another_card(
    client, django_capture_on_commit_callbacks
):
    order = _buy(client, django_capture_on_commit_callbacks)
    _sandbox(client, django_capture_on_commit_callbacks, order, "fail")
    detail = client.get(f"/api/v1/orders/{order['id']}").json()
    assert detail["status"] == "awaiting_payment"
    assert "declined" in detail["failure_reason"]
    assert detail["esims"] == []
    payment = Payment.objects.get(payment_intent_id=order["payment"]["payment_intent_id"])
    assert payment.status == Payment.Status.FAILED
    assert not Transaction.objects.filter(order_id=order["id"]).exists()
