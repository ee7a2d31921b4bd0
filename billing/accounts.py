"""A vendor's ledger accounts: its wallet (prepaid) and receivable (postpaid), one per
currency, opened on first use. The ledger knows the vendor only as the account's
`holder`; the vendor points at its accounts through `VendorAccount`."""

from __future__ import annotations

from django.db import transaction

from billing.models import VendorAccount
from ledger.models import Account, Purpose
from ledger.posting import account_find, account_get_or_create
from vendors.models import Vendor


def vendor_purpose(vendor: Vendor) -> str:
    """The account a vendor's orders draw on: receivable (postpaid) or wallet (prepaid)."""
    if vendor.billing_mode == Vendor.BillingMode.POSTPAID:
        return Purpose.RECEIVABLE
    return Purpose.WALLET


def vendor_ledger_account(
    *, vendor: Vendor, purpose: str | None = None, currency: str | None = None
) -> Account:
    """The vendor's account for `purpose` (by default the one its orders draw on) in
    `currency` (by default the vendor's), opened and linked to the vendor on first use."""
    purpose = purpose or vendor_purpose(vendor)
    currency = currency or vendor.currency
    account = account_find(purpose=purpose, currency=currency, holder=vendor.pk)
    if account is not None:
        return account
    ceiling = vendor.credit_limit if purpose == Purpose.RECEIVABLE else None
    with transaction.atomic():
        account = account_get_or_create(
            purpose=purpose,
            currency=currency,
            holder=vendor.pk,
            ceiling=ceiling,
            livemode=vendor.livemode,
        )
        VendorAccount.objects.get_or_create(account=account, defaults={"vendor": vendor})
    return account


def vendor_ledger_account_find(
    *, vendor: Vendor, purpose: str | None = None, currency: str | None = None
) -> Account | None:
    """The vendor's account, or None while it was never opened (a read: opens nothing)."""
    return Account.objects.filter(
        holder=vendor.pk,
        purpose=purpose or vendor_purpose(vendor),
        currency=currency or vendor.currency,
    ).first()
