"""Top-ups: a bundle bought for an eSIM the buyer already has. The eSIM must be the
buyer's (someone else's is a 404) and not revoked, and the provider must say the bundle
fits it; then the sale creates the order (`orders.services.topup_order_create`) and the
provisioning task applies the bundle to that eSIM."""

from __future__ import annotations

from typing import Any

from catalogue.selectors import bundle_get_sellable
from fulfilment.models import Esim
from fulfilment.routing import client_for, esim_provider, route_code
from fulfilment.selectors import esim_get_for_buyer
from orders.models import Order
from orders.services import topup_order_create
from providers import ProviderError, get_provider
from ttelgo.errors import DomainError
from vendors.models import Vendor


def topup_compatibility_check(
    *, iccid: str, bundle_code: str, customer: Any = None, vendor: Vendor | None = None
) -> None:
    """Ask the provider whether the bundle fits the buyer's eSIM (a Japan bundle does not
    fit a UK eSIM). An HTTP call: run it outside any transaction, before the order.
    Refuses with `bundle_incompatible` (409); someone else's eSIM is a 404."""
    esim = esim_get_for_buyer(iccid=iccid, customer=customer, vendor=vendor)
    bundle_get_sellable(code=bundle_code)
    try:
        issuer = esim_provider(iccid)
        fits = client_for(issuer, esim.livemode, get_provider).bundle_compatible(
            iccid=iccid,
            bundle_code=route_code(bundle_code=bundle_code, provider=issuer)
            if issuer
            else bundle_code,
        )
    except ProviderError as exc:
        raise DomainError(
            "provider_error", "The eSIM provider could not check this top-up; try again."
        ) from exc
    if not fits:
        raise DomainError(
            "bundle_incompatible",
            f"Bundle {bundle_code} cannot be applied to eSIM {iccid}.",
            details={"iccid": iccid, "bundle_code": bundle_code},
        )


def order_create_topup(
    *,
    iccid: str,
    bundle_code: str,
    customer: Any = None,
    vendor: Vendor | None = None,
    client_ip: str | None = None,
    pay_off_session: bool = False,
) -> Order:
    """A top-up of the caller's own eSIM: pays like any order of its channel, then the
    provisioning task applies the bundle to that eSIM. `pay_off_session`: a customer's
    auto top-up, charged to the saved card by the caller."""
    if (customer is None) == (vendor is None):
        raise ValueError("a top-up has exactly one buyer: customer or vendor")
    esim = esim_get_for_buyer(iccid=iccid, customer=customer, vendor=vendor)
    if esim.status == Esim.Status.REVOKED:
        raise DomainError(
            "invalid_state", f"eSIM {iccid} was revoked.", details={"status": esim.status}
        )
    return topup_order_create(
        target_iccid=iccid,
        bundle_code=bundle_code,
        customer=customer,
        vendor=vendor,
        client_ip=client_ip,
        pay_off_session=pay_off_session,
    )
