"""Console test helpers: operators in each role, and orders in a chosen state."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group

from orders.models import Order, OrderItem
from tests.factories import UserFactory, VendorFactory
from ttelgo.models import User

OPERATOR_PASSWORD = "correct-horse-battery"


def operator(role: str, **kwargs: Any) -> User:
    """A staff user in one role group (support | finance | admin)."""
    user: User = UserFactory(is_staff=True, **kwargs)  # type: ignore[assignment]
    user.groups.add(Group.objects.get(name=role))
    return user


def order_row(
    *,
    status: str = Order.Status.COMPLETED,
    total: int = 1000,
    currency: str = "USD",
    channel: str = Order.Channel.B2C,
    customer: Any = None,
    vendor: Any = None,
    quantity: int = 1,
    **fields: Any,
) -> Order:
    """An order row in the given state, written directly (for reads and dashboards only;
    tests of behaviour go through the order services)."""
    if channel == Order.Channel.B2C and customer is None:
        customer = UserFactory()
    if channel == Order.Channel.B2B and vendor is None:
        vendor = VendorFactory()
    order = Order.objects.create(
        channel=channel,
        customer=customer if channel == Order.Channel.B2C else None,
        vendor=vendor if channel == Order.Channel.B2B else None,
        status=status,
        currency=currency,
        total=total,
        **fields,
    )
    OrderItem.objects.create(
        order=order,
        bundle_code="esim_1GB_7D_GB_V2",
        bundle_name="1GB 7 days UK",
        quantity=quantity,
        unit_price=total // quantity,
        unit_cost=total // (2 * quantity),
        currency=currency,
    )
    return order
