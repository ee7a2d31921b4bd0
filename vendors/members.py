"""What a vendor's staff member may do, by role, checked here in the services (the
portal's pages only hide what a role cannot use). Sensitive actions are audited and the
vendor's owner is emailed."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import available_timezones

from django.db import transaction
from django.db.models import Q

from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from vendors.branding import vendor_brand_set
from vendors.models import Vendor, VendorAPIKey, VendorBrand, VendorUser
from vendors.services import (
    api_key_issue,
    api_key_revoke,
    vendor_notify,
    vendor_signup,
    vendor_tax_details_set,
)

Role = VendorUser.Role

# Each permission and the roles that have it.
PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset(Role.values),
    "keys.manage": frozenset({Role.OWNER, Role.ADMIN, Role.DEVELOPER}),
    "brand.manage": frozenset({Role.OWNER, Role.ADMIN}),
    "webhooks.manage": frozenset({Role.OWNER, Role.ADMIN, Role.DEVELOPER}),
    # top-ups, resending a delivery email, test mode's simulations
    "orders.manage": frozenset({Role.OWNER, Role.ADMIN, Role.DEVELOPER}),
    # paying invoices, topping up the wallet, refilling the test wallet
    "billing.manage": frozenset({Role.OWNER, Role.ADMIN, Role.FINANCE}),
    "team.manage": frozenset({Role.OWNER, Role.ADMIN}),
}


def member_for(user: Any) -> VendorUser | None:
    """The user's membership of a vendor (the portal serves one vendor per user)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return VendorUser.objects.select_related("vendor").filter(user=user).order_by("id").first()


def member_may(member: VendorUser, permission: str) -> bool:
    return member.role in PERMISSIONS[permission]


def member_require(member: VendorUser | None, permission: str) -> VendorUser:
    """The member, when their role has `permission` and their vendor is not closed;
    `permission_denied` otherwise. Checked on every request: a removed member or a
    closed vendor loses access at once."""
    if member is None or member.vendor.status == Vendor.Status.CLOSED:
        raise DomainError("permission_denied", "You are not a member of an open vendor account.")
    if not member_may(member, permission):
        raise DomainError(
            "permission_denied",
            f"Your role ({member.role}) may not do this; ask your account's owner.",
        )
    return member


def vendor_signup_with_owner(
    *, user: Any, company_name: str, country: str, billing_mode: str
) -> VendorUser:
    """Portal signup: the vendor (pending until an operator approves it) and the person
    who signed up as its owner."""
    with transaction.atomic():
        vendor = vendor_signup(
            company_name=company_name,
            contact_email=user.email,
            country=country,
            billing_mode=billing_mode,
        )
        return VendorUser.objects.create(vendor=vendor, user=user, role=Role.OWNER)


def member_api_key_issue(
    *, member: VendorUser, name: str, expires_at: datetime | None = None
) -> tuple[VendorAPIKey, str]:
    member_require(member, "keys.manage")
    vendor = member.vendor
    if vendor.status != Vendor.Status.ACTIVE:
        raise DomainError(
            "invalid_state",
            "Live API keys are available once the account is approved.",
            details={"status": vendor.status},
        )
    if not name.strip():
        raise DomainError("validation_error", "Name the key.", details={"name": ["Required."]})
    with transaction.atomic():
        api_key, raw = api_key_issue(
            vendor=vendor, name=name.strip(), expires_at=expires_at, actor=member.user
        )
        vendor_notify(
            vendor=vendor.live_vendor or vendor,  # a test key's news goes to the live owner
            template="api_key_created",
            member=member.user.email,
            api_key=api_key,
        )
    return api_key, raw


def member_api_key_revoke(*, member: VendorUser, key_id: str) -> VendorAPIKey:
    member_require(member, "keys.manage")
    # A member's vendor's keys, live and test.
    api_key = (
        VendorAPIKey.objects.filter(pk=key_id)
        .filter(Q(vendor=member.vendor) | Q(vendor__live_vendor=member.vendor))
        .select_related("vendor")
        .first()
    )
    if api_key is None:
        raise DomainError("not_found", "API key not found.")
    with transaction.atomic():
        was_revoked = api_key.revoked
        api_key_revoke(api_key=api_key, actor=member.user)
        if not was_revoked:
            vendor_notify(
                vendor=member.vendor.live_vendor or member.vendor,
                template="api_key_revoked",
                member=member.user.email,
                api_key=api_key,
            )
    return api_key


def member_tax_details_set(*, member: VendorUser, country: str, vat_number: str) -> Vendor:
    """A member who manages billing records the vendor's country and VAT number (validated
    now: `vendor_tax_details_set`)."""
    member_require(member, "billing.manage")
    return vendor_tax_details_set(
        vendor=member.vendor, country=country, vat_number=vat_number, actor=member.user
    )


def member_timezone_set(*, member: VendorUser, zone: str) -> Vendor:
    """The zone the portal shows the vendor's times in (an IANA name; UTC by default),
    for every member and both modes (the test environment reads its live vendor's)."""
    member_require(member, "brand.manage")
    if zone not in available_timezones():
        raise DomainError(
            "validation_error",
            "Choose a time zone from the list.",
            details={"timezone": ["Choose a time zone from the list."]},
        )
    vendor = member.vendor.live_vendor or member.vendor
    with transaction.atomic():
        before = vendor.timezone
        Vendor.objects.filter(pk=vendor.pk).update(timezone=zone)
        audit_record(
            actor=member.user,
            action="vendor.timezone_set",
            target=vendor,
            before={"timezone": before},
            after={"timezone": zone},
        )
    vendor.timezone = zone
    return vendor


def member_brand_set(*, member: VendorUser, **values: Any) -> VendorBrand:
    member_require(member, "brand.manage")
    return vendor_brand_set(vendor=member.vendor, actor=member.user, **values)
