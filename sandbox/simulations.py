"""Test mode's simulations: what is hard to make happen on purpose (a traveller using 80 %
of their data, a bundle expiring, a provider refusing an order, a declined card) made to
happen to a vendor's test objects. Each one changes what the simulator reports and then
runs the same code live traffic runs, so it produces the same webhooks live mode would.

Only test-mode objects can be touched: live ones answer `invalid_state`."""

from __future__ import annotations

from django.db import transaction

from catalogue.selectors import bundle_get_sellable
from fulfilment.models import Esim
from fulfilment.provisioning import provider_reference_for
from fulfilment.services import esim_usage_refresh
from orders.models import Order
from orders.services import order_create_b2b
from payments.models import Payment
from payments.services import payment_create_for_wallet_topup
from sandbox.models import SandboxBundleAssignment, SandboxScriptedFailure
from sandbox.stripe import sandbox_intent_fail, sandbox_intent_succeed
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.models import Vendor

USAGE_LEVELS = (50, 80, 100)


def _test_only(livemode: bool) -> None:
    if livemode:
        raise DomainError(
            "invalid_state", "Simulations work on test-mode objects only (a test key's)."
        )


def _assignment(esim: Esim) -> SandboxBundleAssignment:
    _test_only(esim.livemode)
    found = (
        SandboxBundleAssignment.objects.filter(esim__iccid=esim.iccid, revoked=False)
        .order_by("-id")
        .first()
    )
    if found is None:
        raise DomainError("invalid_state", "This eSIM has no bundle to simulate on.")
    return found


def simulate_usage(*, esim: Esim, percent: int) -> Esim:
    """The traveller has used `percent` of the eSIM's latest bundle: `esim.usage_threshold`
    at each level crossed (and `esim.depleted` at 100)."""
    if not 0 < percent <= 100:
        raise DomainError(
            "validation_error",
            "The usage must be between 1 and 100 %.",
            details={"percent": ["Between 1 and 100."]},
        )
    assignment = _assignment(esim)
    SandboxBundleAssignment.objects.filter(pk=assignment.pk).update(
        simulated_used_permille=percent * 10, simulated_state=""
    )
    return esim_usage_refresh(esim=esim, force=True)


def simulate_first_use(*, esim: Esim) -> Esim:
    """The traveller installed the eSIM and started using it: `esim.installed` and
    `esim.bundle_started`."""
    assignment = _assignment(esim)
    if assignment.simulated_used_permille is None:
        SandboxBundleAssignment.objects.filter(pk=assignment.pk).update(simulated_used_permille=1)
    return esim_usage_refresh(esim=esim, force=True)


def simulate_expiry(*, esim: Esim) -> Esim:
    """The eSIM's bundle ran out of time: `esim.expired`."""
    assignment = _assignment(esim)
    SandboxBundleAssignment.objects.filter(pk=assignment.pk).update(simulated_state="expired")
    return esim_usage_refresh(esim=esim, force=True)


def simulate_provisioning_failure(*, vendor: Vendor, bundle_code: str) -> Order:
    """A test order the provider refuses: the order fails, its funds are released, and
    `order.failed` goes out, as when the provider refuses a live order."""
    _test_only(vendor.livemode)
    bundle_get_sellable(code=bundle_code)
    with transaction.atomic():
        order = order_create_b2b(
            vendor=vendor,
            bundle_code=bundle_code,
            quantity=1,
            customer_reference="simulated provisioning failure",
        )
        # Provisioning starts once this commits; by then the simulator knows to refuse.
        SandboxScriptedFailure.objects.create(client_reference=provider_reference_for(order.pk))
    order.refresh_from_db()
    return order


def simulate_wallet_topup(*, vendor: Vendor, amount: Money, succeed: bool) -> Payment:
    """A card top-up of the test wallet, paid (`wallet.topup_succeeded`, the wallet is
    credited) or declined (the payment fails; the wallet is unchanged), as the payment
    webhook reports it."""
    _test_only(vendor.livemode)
    payment = payment_create_for_wallet_topup(vendor=vendor, amount=amount)
    if succeed:
        sandbox_intent_succeed(payment_intent_id=payment.payment_intent_id)
    else:
        sandbox_intent_fail(payment_intent_id=payment.payment_intent_id)
    payment.refresh_from_db()
    return payment
