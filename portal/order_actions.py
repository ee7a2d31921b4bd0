"""What vendor staff do to orders and eSIMs in the portal, and test mode's simulations:
the orders, payments and sandbox apps' services behind the member's role (owner, admin
and developer manage orders; owner, admin and finance manage money) and the member's
vendor (another vendor's eSIM is not found)."""

from __future__ import annotations

from typing import Any

from billing.play_money import play_money_refill
from fulfilment.models import Esim
from fulfilment.notifications import esim_delivery_resend
from fulfilment.sale import order_create_b2b
from fulfilment.selectors import esim_get_for_buyer
from fulfilment.topups import order_create_topup, topup_compatibility_check
from orders.models import Order
from payments.models import Payment
from sandbox import simulations
from ttelgo.errors import DomainError
from ttelgo.idempotency import idempotent_run
from ttelgo.money import Money
from vendors.members import member_require
from vendors.models import VendorUser


def member_esim_get(*, member: VendorUser, iccid: str) -> Esim:
    member_require(member, "view")
    return esim_get_for_buyer(iccid=iccid, vendor=member.vendor)


def _vendor_scope(member: VendorUser) -> str:
    # The API's scope for the vendor (ttelgo.idempotency.caller_scope): one key space.
    return f"vendor:{member.vendor.pk}"


def _order_of(member: VendorUser, result: dict[str, Any]) -> Order:
    return Order.objects.get(pk=result["order_id"], vendor=member.vendor)


def member_order_place(
    *,
    member: VendorUser,
    idempotency_key: str,
    bundle_code: str,
    quantity: int,
    customer_reference: str = "",
    customer_email: str = "",
    customer_language: str = "",
) -> tuple[Order, bool]:
    """Place an eSIM order from the portal through the API's service
    (`fulfilment.sale.order_create_b2b`, a stocked bundle delivered at once) under the API's idempotency: the key the order
    form carries places one order however often it is sent (a double click, a reload);
    the second answer is the first order (`True`: a replay). Funds are reserved in the
    same transaction; a refusal (insufficient funds, unknown bundle) places nothing and
    frees the key."""
    member_require(member, "orders.manage")
    payload: dict[str, Any] = {
        "bundle_code": bundle_code,
        "quantity": quantity,
        "customer_reference": customer_reference,
        "customer_email": customer_email,
        "customer_language": customer_language or "en",
    }
    result, replayed = idempotent_run(
        scope=_vendor_scope(member),
        key=idempotency_key,
        path="portal:order-new",
        payload=payload,
        run=lambda: {"order_id": order_create_b2b(vendor=member.vendor, **payload).pk},
    )
    return _order_of(member, result), replayed


def member_topup_place(
    *, member: VendorUser, idempotency_key: str, iccid: str, bundle_code: str
) -> tuple[Order, bool]:
    """Top up one of the vendor's eSIMs, paid like any vendor order (wallet or credit),
    once per key (the confirm form's, shown with the price). The provider is asked
    whether the bundle fits before any transaction opens."""
    member_require(member, "orders.manage")
    topup_compatibility_check(iccid=iccid, bundle_code=bundle_code, vendor=member.vendor)
    result, replayed = idempotent_run(
        scope=_vendor_scope(member),
        key=idempotency_key,
        path=f"portal:esim-topup:{iccid}",
        payload={"iccid": iccid, "bundle_code": bundle_code},
        run=lambda: {
            "order_id": order_create_topup(
                iccid=iccid, bundle_code=bundle_code, vendor=member.vendor
            ).pk
        },
    )
    return _order_of(member, result), replayed


def member_delivery_resend(*, member: VendorUser, iccid: str, to: str = "") -> str:
    member_require(member, "orders.manage")
    esim = esim_get_for_buyer(iccid=iccid, vendor=member.vendor)
    return esim_delivery_resend(esim=esim, to=to)


def member_simulate_esim(*, member: VendorUser, iccid: str, what: str) -> Esim:
    """`usage:<percent>`, `first_use` or `expiry` on one of the test environment's eSIMs."""
    member_require(member, "orders.manage")
    esim = esim_get_for_buyer(iccid=iccid, vendor=member.vendor)
    kind, _, arg = what.partition(":")
    if kind == "usage" and arg.isdigit():
        return simulations.simulate_usage(esim=esim, percent=int(arg))
    if kind == "first_use":
        return simulations.simulate_first_use(esim=esim)
    if kind == "expiry":
        return simulations.simulate_expiry(esim=esim)
    raise DomainError("validation_error", f"Unknown simulation {what!r}.")


def member_simulate_provisioning_failure(*, member: VendorUser, bundle_code: str) -> Order:
    member_require(member, "orders.manage")
    return simulations.simulate_provisioning_failure(vendor=member.vendor, bundle_code=bundle_code)


def member_simulate_wallet_topup(*, member: VendorUser, amount: Money, succeed: bool) -> Payment:
    member_require(member, "billing.manage")
    return simulations.simulate_wallet_topup(vendor=member.vendor, amount=amount, succeed=succeed)


def member_play_money_refill(*, member: VendorUser) -> Money:
    member_require(member, "billing.manage")
    return play_money_refill(vendor=member.vendor, actor=member.user)
