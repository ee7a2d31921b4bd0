"""Test mode's simulator page: what is otherwise hard to make happen, made to happen to
the test environment (each one sends the webhooks live mode would)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing.selectors import vendor_balance
from catalogue.selectors import bundle_list_sellable
from fulfilment.models import Esim
from portal.order_actions import (
    member_simulate_provisioning_failure,
    member_simulate_wallet_topup,
)
from portal.public_ids import order_public_id
from portal.views import _context, portal_page
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.members import member_may
from vendors.models import VendorUser

TOPUP_AMOUNT_MAJOR = 100


@portal_page
def simulator(request: HttpRequest, member: VendorUser) -> HttpResponse:
    context = _context(
        member,
        balance=vendor_balance(vendor=member.vendor) if not member.vendor.livemode else None,
        bundles=bundle_list_sellable()[:200],
        esims=Esim.objects.filter(order__vendor=member.vendor).order_by("-id")[:20]
        if not member.vendor.livemode
        else [],
        may_orders=member_may(member, "orders.manage"),
        may_billing=member_may(member, "billing.manage"),
        topup_amount=Money.from_decimal(TOPUP_AMOUNT_MAJOR, member.vendor.currency),
    )
    return render(request, "portal/simulator.html", context)


@require_POST
@portal_page
def simulate(request: HttpRequest, member: VendorUser, what: str) -> HttpResponse:
    try:
        if what == "provisioning-failure":
            order = member_simulate_provisioning_failure(
                member=member, bundle_code=request.POST.get("bundle_code", "")
            )
            messages.success(
                request, f"Test order {order_public_id(order.pk)} placed; the provider refuses it."
            )
            return redirect("portal:order", order_id=order.pk)
        if what in ("payment-failure", "payment-success"):
            payment = member_simulate_wallet_topup(
                member=member,
                amount=Money.from_decimal(TOPUP_AMOUNT_MAJOR, member.vendor.currency),
                succeed=what == "payment-success",
            )
            if payment.status == payment.Status.SUCCEEDED:
                messages.success(request, "The test card paid; the test wallet is credited.")
            else:
                messages.error(request, f"The test card was declined: {payment.failure_reason}")
        else:
            messages.error(request, "Unknown simulation.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("portal:test-tools")
