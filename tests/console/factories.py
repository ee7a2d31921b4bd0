"""Console test helpers: operators in each role, and orders in a chosen state."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.utils import timezone

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
    if status == Order.Status.COMPLETED:
        fields.setdefault("completed_at", timezone.now())
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


# --- real flows (through the services) -----------------------------------------------------


def b2c_order(*, customer: Any = None, quantity: int = 1, client_ip: str | None = None) -> Order:
    """A customer's order awaiting payment, with its sandbox PaymentIntent (needs the
    `bundles` fixture)."""
    from orders.services import order_create_b2c
    from tests.orders.factories import BUNDLE_CODE

    return order_create_b2c(
        customer=customer or UserFactory(),
        bundle_code=BUNDLE_CODE,
        quantity=quantity,
        client_ip=client_ip,
    )


def pay(order: Order) -> Order:
    """The customer pays in the sandbox; the signed event runs through the real webhook.
    Call inside captureOnCommitCallbacks(execute=True) (or a transactional test)."""
    from payments.models import Payment
    from sandbox.stripe import sandbox_intent_succeed

    intent = Payment.objects.get(order=order).payment_intent_id
    sandbox_intent_succeed(payment_intent_id=intent)
    return order


def charge_event(
    *, order: Order, fingerprint: str = "fp_card_1", country: str = "GB", event_id: str = ""
) -> Any:
    """The order payment's `charge.succeeded` event with its card, received and
    processed as Stripe's delivery would be."""
    from payments.models import Payment
    from webhooks.inbound import inbound_event_process
    from webhooks.models import InboundEvent

    payment = Payment.objects.get(order=order)
    event = InboundEvent.objects.create(
        source="stripe",
        event_id=event_id or f"evt_charge_{order.pk}",
        event_type="charge.succeeded",
        status="received",
        payload={
            "id": event_id or f"evt_charge_{order.pk}",
            "type": "charge.succeeded",
            "data": {
                "object": {
                    "id": f"ch_{order.pk}",
                    "object": "charge",
                    "payment_intent": payment.payment_intent_id,
                    "payment_method_details": {
                        "type": "card",
                        "card": {"fingerprint": fingerprint, "country": country},
                    },
                }
            },
        },
    )
    return inbound_event_process(event_id=event.pk)


def payment_row(order: Order, *, status: str = "succeeded", intent: str = "") -> Any:
    from payments.models import Payment

    return Payment.objects.create(
        kind=Payment.Kind.ORDER,
        order=order,
        payment_intent_id=intent or f"pi_test_{order.pk}",
        amount=order.total,
        currency=order.currency,
        status=status,
    )
