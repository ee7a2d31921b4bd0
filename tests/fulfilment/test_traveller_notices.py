"""The traveller's side: a customer refunded by an operator hears of it, in their own
language, once the refund has committed (before, only vendors were told)."""

from __future__ import annotations

import pytest
from django.core import mail

from fulfilment.operator import operator_order_refund
from orders.models import Order
from tests.console.factories import operator
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, RETAIL, customer_client
from tests.orders.helpers import buy_b2c, pay
from ttelgo.money import Money

pytestmark = pytest.mark.django_db
PRICE = RETAIL[BUNDLE_CODE]


@pytest.fixture
def spanish_order(bundles, django_capture_on_commit_callbacks) -> Order:
    customer = customer_client(UserFactory(language="es", email="lucia@example.com"))
    placed = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, placed)
    order = Order.objects.get(pk=placed["id"])
    assert order.status == Order.Status.COMPLETED
    return order


@pytest.mark.parametrize("amount", [Money(100, "USD"), None], ids=["partial", "full"])
def test_a_customer_refunded_by_an_operator_is_emailed_in_their_language(
    spanish_order, django_capture_on_commit_callbacks, amount
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        operator_order_refund(
            order_id=spanish_order.pk, actor=operator("finance"), amount=amount, reason="goodwill"
        )
    told = [m for m in mail.outbox if m.to == ["lucia@example.com"]]
    assert len(told) == 1
    refunded = Money(100 if amount else PRICE, "USD")
    assert told[0].subject == f"El pedido {spanish_order.pk} ha sido reembolsado"
    assert str(refunded) in told[0].body
    assert "Hemos reembolsado" in told[0].body
