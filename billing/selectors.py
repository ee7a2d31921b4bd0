"""Reads of a vendor's money: balance, statement, invoices. The ledger's own reads (account
balances, the trial balance) are `ledger.selectors`."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, Q, QuerySet, Value
from django.utils import timezone

from billing.accounts import vendor_ledger_account_find, vendor_purpose
from billing.models import Invoice
from ledger.models import Account, Entry, Purpose
from ttelgo.money import Money
from vendors.models import Vendor


@dataclass(frozen=True)
class VendorBalance:
    """What a vendor can spend, from the vendor's point of view.

    prepaid:  balance = wallet funds, reserved = open holds, available = balance - reserved.
    postpaid: balance = minus what the vendor owes (negative while they owe us, positive if
              they paid ahead), reserved = open holds, available =
              credit_limit - owed - reserved.
    """

    billing_mode: str
    currency: str
    balance: Money
    reserved: Money
    credit_limit: Money
    available: Money


def vendor_balance(*, vendor: Vendor) -> VendorBalance:
    account = vendor_ledger_account_find(vendor=vendor)
    return vendor_balance_of(vendor=vendor, account=account)


def vendor_balances(*, vendors: list[Vendor]) -> dict[int, VendorBalance]:
    """`vendor_balance` of each of `vendors` (a page of a list), in one query."""
    if not vendors:
        return {}
    wanted = Q()
    for vendor in vendors:
        wanted |= Q(holder=vendor.pk, purpose=vendor_purpose(vendor), currency=vendor.currency)
    accounts: dict[int, Account] = {}
    for account in Account.objects.filter(wanted).order_by("-pk"):
        accounts[int(account.holder)] = account  # type: ignore[arg-type]  # the oldest wins, as .first()
    return {v.pk: vendor_balance_of(vendor=v, account=accounts.get(v.pk)) for v in vendors}


def vendor_balance_of(*, vendor: Vendor, account: Account | None) -> VendorBalance:
    """The balance view of `account`, the vendor's wallet or receivable as already read."""
    currency = vendor.currency
    purpose = vendor_purpose(vendor)
    balance = (account.balance or 0) if account else 0
    held = account.held if account else 0
    if purpose == Purpose.WALLET:
        return VendorBalance(
            billing_mode=vendor.billing_mode,
            currency=currency,
            balance=Money(balance, currency),
            reserved=Money(held, currency),
            credit_limit=Money(0, currency),
            available=Money(balance - held, currency),
        )
    limit = account.ceiling if account and account.ceiling is not None else vendor.credit_limit
    return VendorBalance(
        billing_mode=vendor.billing_mode,
        currency=currency,
        balance=Money(-balance, currency),
        reserved=Money(held, currency),
        credit_limit=Money(limit, currency),
        available=Money(limit - balance - held, currency),
    )


def vendor_statement(*, vendor: Vendor, purpose: str | None = None) -> QuerySet[Entry]:
    """Statement lines of the vendor's account (wallet or receivable by billing mode),
    newest first, one indexed read: `balance_after` was stored when the entry was posted.

    Each row is an Entry annotated with `type`, `description`, `order_id`, `currency`,
    and, from the vendor's point of view (money of theirs with us is positive, like
    `vendor_balance().balance`): `statement_amount` and `statement_balance_after`.
    """
    purpose = purpose or vendor_purpose(vendor)
    # Vendor's view = minus the debit-positive amount for both wallet and receivable.
    balance_sign = -1 if purpose == Purpose.RECEIVABLE else 1
    account = vendor_ledger_account_find(vendor=vendor, purpose=purpose)
    account_id = account.id if account is not None else None
    # Filtering on the id (not through the join) lets PostgreSQL walk (account, -id).
    return (
        Entry.objects.filter(account_id=account_id if account_id is not None else -1)
        .select_related("transaction")
        .annotate(
            type=F("transaction__kind"),
            description=F("transaction__description"),
            order_id=F("transaction__order_id"),
            currency=F("account__currency"),
            statement_amount=-F("amount"),
            statement_balance_after=F("balance_after") * Value(balance_sign),
            posted_at=F("transaction__created_at"),
        )
        .order_by("-id")
    )


def vendor_has_overdue_invoices(*, vendor: Vendor) -> bool:
    """True when an unpaid invoice is past its due date (whether or not the beat job has
    marked it overdue yet). Only postpaid vendors are invoiced (the billing mode is fixed
    once a vendor exists), so a prepaid vendor's order asks nothing of the database."""
    if vendor.billing_mode != Vendor.BillingMode.POSTPAID:
        return False
    return Invoice.objects.filter(
        vendor_id=vendor.pk,
        status__in=[Invoice.Status.ISSUED, Invoice.Status.OVERDUE],
        due_date__lt=timezone.now().date(),
    ).exists()


def vendor_invoices(*, vendor: Vendor) -> QuerySet[Invoice]:
    return Invoice.objects.filter(vendor=vendor).order_by("-period_start")
