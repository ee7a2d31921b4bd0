"""Ledger test helpers: vendors with their accounts, and money shortcuts."""

from __future__ import annotations

from billing import services
from ledger.models import Account, Purpose
from tests.factories import VendorFactory
from ttelgo.money import Money
from vendors.models import Vendor


def usd(cents: int) -> Money:
    return Money(cents, "USD")


def prepaid(**kwargs):
    return VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD", **kwargs)


def postpaid(credit_limit: int = 10_000, **kwargs):
    return VendorFactory(
        billing_mode=Vendor.BillingMode.POSTPAID,
        currency="USD",
        credit_limit=credit_limit,
        **kwargs,
    )


def fund(vendor: Vendor, cents: int, reference: str | None = None) -> None:
    services.vendor_wallet_topup_credit(
        vendor=vendor, amount=usd(cents), reference=reference or f"topup:{vendor.id}:{cents}"
    )


def wallet(vendor: Vendor) -> Account:
    return services.account_get_or_create(purpose=Purpose.WALLET, currency="USD", vendor=vendor)


def receivable(vendor: Vendor) -> Account:
    return services.account_get_or_create(purpose=Purpose.RECEIVABLE, currency="USD", vendor=vendor)


def platform(purpose: str) -> Account:
    return services.account_get_or_create(purpose=purpose, currency="USD")
