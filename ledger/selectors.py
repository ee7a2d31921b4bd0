"""Reads of the ledger: balances of accounts, the trial balance."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from ledger.models import Account, Entry, NormalSide, Purpose, Transaction
from ttelgo.money import Money


def account_balance(*, account: Account) -> Money:
    """The account's balance in its normal direction, read fresh from the database: the
    cached balance of a vendor account, the sum of the entries of a platform account."""
    balance = Account.objects.values_list("balance", flat=True).get(id=account.id)
    if balance is None:
        return Money(account_entries_sum(account=account), account.currency)
    return Money(balance, account.currency)


def entry_totals(accounts: QuerySet[Account]) -> dict[int, int]:
    """Account id -> debit-positive sum of its entries, for each of `accounts`: its
    balance checkpoint's total plus the entries after it (`ledger/checkpoints.py`), in
    one statement, so its cost follows the entries since the last checkpoint."""
    tail = (
        Entry.objects.filter(account=OuterRef("pk"), id__gt=OuterRef("cp_through"))
        .order_by()
        .values("account")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    rows = (
        accounts.order_by()
        .annotate(
            cp_through=Coalesce(F("checkpoint__through_entry_id"), 0),
            cp_total=Coalesce(F("checkpoint__total"), 0),
        )
        .annotate(total=F("cp_total") + Coalesce(Subquery(tail), 0))
        .values_list("id", "total")
    )
    return {account_id: int(total) for account_id, total in rows}


def platform_balances() -> dict[int, int]:
    """Account id -> debit-positive sum of its entries, for every live platform account
    (they cache no balance)."""
    return entry_totals(Account.objects.filter(holder__isnull=True, livemode=True))


@dataclass
class TrialBalanceRow:
    account: Account
    debit: int
    credit: int


@dataclass
class TrialBalance:
    rows: list[TrialBalanceRow]
    # currency -> (total debits, total credits); equal in a healthy ledger
    totals: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return all(d == c for d, c in self.totals.values())


def trial_balance() -> TrialBalance:
    """Every account's balance in a debit or credit column (vendor accounts from their
    cached balances, which the integrity check proves equal the entries; platform accounts
    from their entries)."""
    rows = []
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    platform = platform_balances()
    # The live books: test mode's play money has its own accounts, balanced on their own.
    for account in Account.objects.filter(livemode=True).order_by("currency", "owner", "id"):
        # A debit-normal account with a negative balance sits in the credit column.
        if account.balance is None:
            signed = platform.get(account.id, 0)
        else:
            signed = account.balance * account.sign  # debit-positive
        debit, credit = (signed, 0) if signed >= 0 else (0, -signed)
        rows.append(TrialBalanceRow(account=account, debit=debit, credit=credit))
        totals[account.currency][0] += debit
        totals[account.currency][1] += credit
    return TrialBalance(rows=rows, totals={c: (d, k) for c, (d, k) in totals.items()})


def account_entries_sum(*, account: Account) -> int:
    """Sum of the account's entries in its normal direction (its checkpoint's total plus
    the entries after it)."""
    total = entry_totals(Account.objects.filter(id=account.id)).get(account.id, 0)
    return total * (1 if account.normal == NormalSide.DEBIT else -1)


def entries_sum_by_reference(
    *, references: list[str], purpose: str, livemode: bool = True
) -> dict[str, int]:
    """Reference -> debit-positive sum of that transaction's legs on the platform accounts
    of `purpose` (any currency) in one mode; references with no such leg are left out."""
    rows = (
        Entry.objects.filter(
            transaction__reference__in=references,
            account__purpose=purpose,
            account__holder__isnull=True,
            account__livemode=livemode,
        )
        .order_by()
        .values("transaction__reference")
        .annotate(total=Sum("amount"))
    )
    return {r["transaction__reference"]: int(r["total"]) for r in rows}


def order_refunded_sum(*, order_id: int, currency: str) -> int:
    """What an order's refunds gave back so far (minor units, `currency`): a customer's
    card refunds and a vendor's order refunds, each the debit of the refunds account.
    Disputes are not refunds."""
    total = Entry.objects.filter(
        transaction__order_id=order_id,
        transaction__kind__in=(Transaction.Kind.B2C_REFUND, Transaction.Kind.ORDER_REFUND),
        account__purpose=Purpose.REFUNDS,
        account__currency=currency,
        amount__gt=0,
    ).aggregate(total=Coalesce(Sum("amount"), 0))["total"]
    return int(total)


def order_tax_reversed_sum(*, order_id: int, currency: str) -> int:
    """The VAT of an order given back so far by its refunds (the debits of tax_payable)."""
    total = Entry.objects.filter(
        transaction__order_id=order_id,
        transaction__kind=Transaction.Kind.SALE_TAX,
        account__purpose=Purpose.TAX_PAYABLE,
        account__currency=currency,
        amount__gt=0,
    ).aggregate(total=Coalesce(Sum("amount"), 0))["total"]
    return int(total)
