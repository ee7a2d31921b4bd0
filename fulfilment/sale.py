"""The vendor's eSIM order as the API (and the portal) place it: the sale's own order
(`orders.services.order_create_b2b`: funds reserved, then provisioning queued), delivered
instead from ready stock inside the transaction that creates it when stock holds the
whole order (`fulfilment.provisioning.order_complete_from_stock`). The answer to the
request then carries the completed order with its eSIMs; otherwise it is the order in
provisioning, exactly as before."""

from __future__ import annotations

from fulfilment.provisioning import order_complete_from_stock
from orders import services
from orders.models import Order
from vendors.models import Vendor


def _from_stock(order: Order) -> Order | None:
    return order_complete_from_stock(order=order)


def order_create_b2b(
    *,
    vendor: Vendor,
    bundle_code: str,
    quantity: int,
    customer_reference: str = "",
    customer_email: str = "",
    customer_language: str = "",
) -> Order:
    """A vendor's eSIM order, completed at once from stock (in the vendor's mode: a test
    order takes test stock only) when stock holds all of it, else queued for
    provisioning."""
    return services.order_create_b2b(
        vendor=vendor,
        bundle_code=bundle_code,
        quantity=quantity,
        customer_reference=customer_reference,
        customer_email=customer_email,
        customer_language=customer_language,
        deliver=_from_stock,
    )
