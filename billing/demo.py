"""Demo vendors with their money for `make run` (called by `manage.py seed_demo`): a
prepaid one with a funded wallet, a postpaid one with a credit line. Safe to run again."""

from __future__ import annotations

from typing import Any

from billing.services import vendor_wallet_topup_credit
from ttelgo.money import Money
from vendors.models import Vendor
from vendors.services import (
    api_key_issue,
    vendor_create,
    vendor_credit_limit_change,
)

PREPAID_NAME = "Demo Prepaid Travel Co"
POSTPAID_NAME = "Demo Postpaid Roaming Ltd"
WALLET_FUNDS = Money(50_000, "USD")  # 500.00
CREDIT_LIMIT = Money(200_000, "USD")  # 2,000.00


def _fund(vendor: Vendor) -> str:
    # The reference makes the credit idempotent across re-runs.
    vendor_wallet_topup_credit(
        vendor=vendor, amount=WALLET_FUNDS, reference=f"demo:wallet-topup:{vendor.pk}"
    )
    return f"wallet {WALLET_FUNDS}"


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


def seed_demo(stdout: Any) -> list[str]:
    prepaid, _ = _vendor(PREPAID_NAME, Vendor.BillingMode.PREPAID)
    funding = _fund(prepaid)
    postpaid, created = _vendor(POSTPAID_NAME, Vendor.BillingMode.POSTPAID)
    if created or postpaid.credit_limit != CREDIT_LIMIT.amount:
        vendor_credit_limit_change(
            vendor=postpaid, limit=CREDIT_LIMIT, actor=None, reason="demo credit line"
        )
    # A fresh key per run: earlier keys cannot be shown again (only their hashes exist).
    _, prepaid_key = api_key_issue(vendor=prepaid, name="demo")
    _, postpaid_key = api_key_issue(vendor=postpaid, name="demo")
    return [
        f"Demo vendor (prepaid, {funding}): Api-Key {prepaid_key}",
        f"Demo vendor (postpaid, credit {CREDIT_LIMIT}): Api-Key {postpaid_key}",
    ]
