"""The demo portal login for `make run` (called by `manage.py seed_demo` after the demo
vendors exist): the owner of the prepaid demo vendor, email already verified."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress

from ttelgo.models import User
from vendors.models import Vendor, VendorUser

EMAIL = "vendor@ttelgo.local"
PASSWORD = "demo-vendor-pass"  # noqa: S105 - the public demo login of `make run`
VENDOR_NAME = "Demo Prepaid Travel Co"


def seed_demo(stdout: Any) -> list[str]:
    vendor = Vendor.objects.filter(name=VENDOR_NAME).first()
    if vendor is None:
        return []
    user, created = User.objects.get_or_create(email=EMAIL)
    if created:
        user.set_password(PASSWORD)
        user.save()
    EmailAddress.objects.get_or_create(
        user=user, email=EMAIL, defaults={"verified": True, "primary": True}
    )
    VendorUser.objects.get_or_create(
        vendor=vendor, user=user, defaults={"role": VendorUser.Role.OWNER}
    )
    return [f"Vendor portal:   http://127.0.0.1:8000/portal/  ({EMAIL} / {PASSWORD})"]
