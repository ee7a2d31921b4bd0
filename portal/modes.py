"""The portal's live/test switch. In test mode every page acts on the vendor's test
environment (its own vendor row: test wallet, orders, eSIMs, keys and webhook endpoints),
through the same services and role checks as live mode; the membership is the live one."""

from __future__ import annotations

from django.http import HttpRequest

from billing.play_money import vendor_test_environment_open
from vendors.models import VendorUser

SESSION_KEY = "portal_test_mode"


def test_mode_on(request: HttpRequest) -> bool:
    return bool(request.session.get(SESSION_KEY, False))


def test_mode_set(request: HttpRequest, on: bool) -> None:
    request.session[SESSION_KEY] = on


def member_in_mode(member: VendorUser, *, livemode: bool) -> VendorUser:
    """The membership acting on the live vendor or on its test environment (opened, with
    its play money, on first use). Never saved: the role is the live membership's."""
    if livemode:
        return member
    environment = vendor_test_environment_open(vendor=member.vendor)
    return VendorUser(pk=member.pk, vendor=environment, user=member.user, role=member.role)
