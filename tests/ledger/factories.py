"""Ledger test helpers: vendors with their accounts, and money shortcuts."""

from __future__ import annotations

from billing import services
from billing.accounts import vendor_ledger_account
from ledger import services as ledger_services
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
    return vendor_ledger_account(vendor=vendor, purpose=Purpose.WALLET, currency="USD")


def receivable(vendor: Vendor) -> Account:
    return vendor_ledger_account(vendor=vendor, purpose=Purpose.RECEIVABLE, currency="USD")


def platform(purpose: str) -> Account:
    return ledger_services.account_get_or_create(purpose=purpose, currency="USD")
