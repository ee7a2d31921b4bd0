"""Steps the order tests share: place an order through the API, pay it in the sandbox."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework.test import APIClient

from ledger.integrity import ledger_integrity_check
from ledger.models import Hold
from orders.models import Order
from tests.orders.factories import BUNDLE_CODE


def key() -> str:
    return str(uuid.uuid4())


def post(client: APIClient, path: str, body: dict[str, Any] | None = None, **headers: Any) -> Any:
    extra: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": headers.pop("idem", key()), **headers}
    return client.post(path, body or {}, format="json", **extra)


def buy_b2c(client: APIClient, capture: Any, *, quantity: int = 1, code: str = BUNDLE_CODE) -> dict:
    with capture(execute=True):
        response = post(client, "/api/v1/orders", {"bundle_code": code, "quantity": quantity})
    assert response.status_code == 201, response.content
    return response.json()


def pay(client: APIClient, capture: Any, order: dict) -> None:
    pi = order["payment"]["payment_intent_id"]
    with capture(execute=True):
        response = client.post(f"/api/v1/sandbox/payment_intents/{pi}/succeed")
    assert response.status_code == 200, response.content


def buy_b2b(client: APIClient, capture: Any, *, quantity: int = 1, **body: Any) -> Any:
    with capture(execute=True):
        return post(
            client,
            "/api/v1/vendor/orders",
            {"bundle_code": body.pop("bundle_code", BUNDLE_CODE), "quantity": quantity, **body},
        )


def assert_ledger_sound() -> None:
    findings = ledger_integrity_check()
    assert findings == [], findings


def hold_status(order_id: int) -> str | None:
    hold = Hold.objects.filter(order_id=order_id).order_by("-id").first()
    return hold.status if hold else None


def order_status(order_id: int) -> str:
    return Order.objects.get(pk=order_id).status
