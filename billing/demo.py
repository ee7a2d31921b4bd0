"""Demo vendors with their money for `make run` (called by `manage.py seed_demo`): a
prepaid one with a funded wallet, a postpaid one with a credit line.

Safe to run again: it creates what is missing and changes nothing an operator changed
(a credit limit raised in the console stays raised; a demo key an operator revoked stays
revoked). Each demo vendor's API key is the same on every run of the same database
(derived from SECRET_KEY), so the key printed yesterday still works today."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from rest_framework_api_key.crypto import KeyGenerator

from billing.play_money import vendor_test_environment_open
from billing.selectors import vendor_balance
from billing.services import vendor_wallet_topup_credit
from ttelgo.audit import audit_record
from ttelgo.money import Money
from vendors.models import Vendor, VendorAPIKey, key_marker
from vendors.services import vendor_create, vendor_credit_limit_change

PREPAID_NAME = "Demo Prepaid Travel Co"
POSTPAID_NAME = "Demo Postpaid Roaming Ltd"
WALLET_FUNDS = Money(50_000, "USD")  # 500.00
CREDIT_LIMIT = Money(200_000, "USD")  # 2,000.00


def _fund(vendor: Vendor) -> None:
    # The reference makes the credit idempotent across re-runs.
    vendor_wallet_topup_credit(
        vendor=vendor, amount=WALLET_FUNDS, reference=f"demo:wallet-topup:{vendor.pk}"
    )


def _vendor(name: str, billing_mode: str) -> tuple[Vendor, bool]:
    vendor = Vendor.objects.filter(name=name).first()
    if vendor is not None:
        return vendor, False
    vendor = vendor_create(
        name=name,
        billing_mode=billing_mode,
        currency="USD",
        contact_email=f"{billing_mode}@vendor.demo",
        country="GB",
        approve=True,
    )
    return vendor, True


def demo_key(vendor: Vendor) -> str:
    """The demo vendor's key: the same string on every run (an HMAC of SECRET_KEY), its
    hash stored once. Only its hash is kept, as for any key."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"ttelgo-demo-key:{vendor.pk}".encode(), hashlib.sha256
    ).hexdigest()
    prefix, secret = digest[:8], digest[8:40]
    key = f"{prefix}.{secret}"
    if not VendorAPIKey.objects.filter(vendor=vendor, prefix=prefix).exists():
        hashed = KeyGenerator().hash(key)
        api_key = VendorAPIKey(
            id=f"{prefix}.{hashed}", prefix=prefix, hashed_key=hashed, vendor=vendor, name="demo"
        )
        api_key.save(force_insert=True)
        audit_record(
            actor=None,
            action="vendor.api_key_issue",
            target=vendor,
            after={"prefix": prefix, "name": "demo", "expires_at": None},
        )
    return key_marker(vendor.livemode) + key


def _key_line(vendor: Vendor) -> str:
    key = demo_key(vendor)
    prefix = key.removeprefix(key_marker(vendor.livemode)).partition(".")[0]
    if VendorAPIKey.objects.filter(vendor=vendor, prefix=prefix, revoked=True).exists():
        return "Api-Key revoked in the console (issue a new one there)"
    return f"Api-Key {key}"


def seed_demo(stdout: Any) -> list[str]:
    prepaid, _ = _vendor(PREPAID_NAME, Vendor.BillingMode.PREPAID)
    _fund(prepaid)
    postpaid, created = _vendor(POSTPAID_NAME, Vendor.BillingMode.POSTPAID)
    if created:  # later changes are the operator's
        vendor_credit_limit_change(
            vendor=postpaid, limit=CREDIT_LIMIT, actor=None, reason="demo credit line"
        )
    # The figures as they are now, not as the first run left them.
    wallet = vendor_balance(vendor=prepaid)
    credit = vendor_balance(vendor=postpaid)
    # Test mode from the first minute: the prepaid demo vendor's test environment.
    test = vendor_test_environment_open(vendor=prepaid)
    return [
        f"Demo vendor (prepaid, wallet {wallet.available} available): {_key_line(prepaid)}",
        f"Demo vendor (postpaid, {credit.available} of {credit.credit_limit} credit left): "
        f"{_key_line(postpaid)}",
        f"Demo vendor, test mode (play money, simulated eSIMs): {_key_line(test)}",
    ]
