"""Double-entry ledger: accounts, transactions, entries, holds, postpaid invoices.

Sign convention
---------------
* `Entry.amount` is signed from the ledger's point of view: **debit positive, credit
  negative**. Every transaction's entries sum to zero per currency.
* `Account.balance` (and `Entry.balance_after`) are shown in the account's **normal
  direction**, and cached only on vendor accounts (wallets and receivables), the ones
  whose bound the database must check. Platform (house) accounts keep no running balance
  (`balance` and their entries' `balance_after` are NULL): every order posts to revenue,
  cost of sales and provider payable, and a cached balance there would be a row that
  every completion on the platform must lock. Their balance is the sum of their entries
  (`ledger.selectors.account_balance`). For cached accounts: for debit-normal accounts (assets, expenses) balance = sum(amount); for
  credit-normal accounts (liabilities, income, equity) balance = -sum(amount). So a funded
  vendor wallet (a liability: what we owe the vendor) has a positive balance, and a
  postpaid receivable (an asset: what the vendor owes us) is positive when they owe us.
* `Hold.amount` is a pending **debit** of the account (an order reserve: a wallet debit
  or a receivable debit); `Account.held` is the sum of its pending holds.
* Each account carries its own bound (DESIGN.md "Ledger"): `floor` (wallet: 0) and
  `ceiling` (receivable: the vendor's credit limit). The CHECK constraints below include
  the open holds in the direction they would move the balance, so "available" can never
  be overdrawn, not even by reservations.

On PostgreSQL the migrations add triggers that make entries immutable, keep `balance`,
`balance_after` and `held` equal to the entries/holds, and check every transaction
balances at commit (deferred). On SQLite the service layer does the same work (see
`ledger/posting.py`); the CHECK constraints apply on both.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class AccountType(models.TextChoices):
    ASSET = "asset"
    LIABILITY = "liability"
    INCOME = "income"
    EXPENSE = "expense"
    EQUITY = "equity"


class NormalSide(models.TextChoices):
    DEBIT = "debit"
    CREDIT = "credit"


class Owner(models.TextChoices):
    PLATFORM = "platform"
    VENDOR = "vendor"


class Purpose(models.TextChoices):
    # platform
    STRIPE_CLEARING = "stripe_clearing"
    BANK = "bank"
    REVENUE = "revenue"
    COGS = "cogs"
    PROVIDER_PAYABLE = "provider_payable"
    # A refund the provider owes us for a bundle it took back, until it shows as arrived.
    PROVIDER_REFUND_RECEIVABLE = "provider_refund_receivable"
    REFUNDS = "refunds"
    ADJUSTMENTS = "adjustments"
    # What the card gateway keeps per charge, refund and dispute (Stripe's fees).
    CARD_FEES = "card_fees"
    # VAT collected on sales, owed to the tax authorities (ttelgo/tax.py).
    TAX_PAYABLE = "tax_payable"
    # The currency position: money changing currency passes through it, one leg per
    # currency, so every currency of a transaction balances on its own.
    FX = "fx"
    # eSIMs bought ahead (ready stock) at what they cost, until sold, refunded or written off.
    INVENTORY = "inventory"
    # vendor
    WALLET = "wallet"
    RECEIVABLE = "receivable"


# The chart of accounts: purpose -> (owner, type).
CHART: dict[str, tuple[str, str]] = {
    Purpose.STRIPE_CLEARING: (Owner.PLATFORM, AccountType.ASSET),
    Purpose.BANK: (Owner.PLATFORM, AccountType.ASSET),
    Purpose.REVENUE: (Owner.PLATFORM, AccountType.INCOME),
    Purpose.COGS: (Owner.PLATFORM, AccountType.EXPENSE),
    Purpose.PROVIDER_PAYABLE: (Owner.PLATFORM, AccountType.LIABILITY),
    Purpose.PROVIDER_REFUND_RECEIVABLE: (Owner.PLATFORM, AccountType.ASSET),
    # contra-revenue: debit-normal
    Purpose.REFUNDS: (Owner.PLATFORM, AccountType.EXPENSE),
    Purpose.ADJUSTMENTS: (Owner.PLATFORM, AccountType.EXPENSE),
    Purpose.CARD_FEES: (Owner.PLATFORM, AccountType.EXPENSE),
    Purpose.TAX_PAYABLE: (Owner.PLATFORM, AccountType.LIABILITY),
    Purpose.FX: (Owner.PLATFORM, AccountType.ASSET),
    Purpose.INVENTORY: (Owner.PLATFORM, AccountType.ASSET),
    Purpose.WALLET: (Owner.VENDOR, AccountType.LIABILITY),
    Purpose.RECEIVABLE: (Owner.VENDOR, AccountType.ASSET),
}

NORMAL_SIDE: dict[str, str] = {
    AccountType.ASSET: NormalSide.DEBIT,
    AccountType.EXPENSE: NormalSide.DEBIT,
    AccountType.LIABILITY: NormalSide.CREDIT,
    AccountType.INCOME: NormalSide.CREDIT,
    AccountType.EQUITY: NormalSide.CREDIT,
}


class Account(models.Model):
    owner = models.CharField(max_length=16, choices=Owner.choices)
    # Whose account this is, as the owner's own key (a vendor account: the vendor's id);
    # NULL on platform accounts. The ledger keeps no foreign key to its owners: owners
    # point at their accounts (billing.VendorAccount), as double-entry libraries do.
    holder = models.BigIntegerField(null=True, blank=True)
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    currency = models.CharField(max_length=3)
    # Platform accounts come in two sets: live, and test mode's play money (test-mode
    # vendors' postings), so test activity never reaches the live books.
    livemode = models.BooleanField(default=True, db_default=True)
    type = models.CharField(max_length=16, choices=AccountType.choices)
    normal = models.CharField(max_length=6, choices=NormalSide.choices)
    # Cached, in the normal direction, on vendor accounts only (NULL on platform accounts);
    # only the posting path writes it (a trigger on PG).
    balance = models.BigIntegerField(null=True, blank=True, default=0)
    held = models.BigIntegerField(default=0, help_text="sum of pending holds (pending debits)")
    floor = models.BigIntegerField(null=True, blank=True, help_text="lowest allowed balance")
    ceiling = models.BigIntegerField(null=True, blank=True, help_text="highest allowed balance")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "currency", "livemode"],
                condition=Q(holder__isnull=True),
                name="ledger_account_platform_mode_unique",
            ),
            models.UniqueConstraint(
                fields=["holder", "purpose", "currency"],
                condition=Q(holder__isnull=False),
                name="ledger_account_holder_unique",
            ),
            models.CheckConstraint(
                condition=(Q(owner=Owner.VENDOR) & Q(holder__isnull=False))
                | (Q(owner=Owner.PLATFORM) & Q(holder__isnull=True)),
                name="ledger_account_owner_has_holder",
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="ledger_account_held_gte_0"),
            # Only vendor accounts cache a balance (and only they carry bounds).
            models.CheckConstraint(
                condition=(Q(owner=Owner.VENDOR) & Q(balance__isnull=False))
                | (
                    Q(owner=Owner.PLATFORM)
                    & Q(balance__isnull=True)
                    & Q(floor__isnull=True)
                    & Q(ceiling__isnull=True)
                ),
                name="ledger_account_cached_balance_iff_vendor",
            ),
            # Pending debits lower a credit-normal balance and raise a debit-normal one.
            models.CheckConstraint(
                condition=Q(floor__isnull=True)
                | (Q(normal=NormalSide.CREDIT) & Q(balance__gte=F("floor") + F("held")))
                | (Q(normal=NormalSide.DEBIT) & Q(balance__gte=F("floor"))),
                name="ledger_account_within_floor",
            ),
            models.CheckConstraint(
                condition=Q(ceiling__isnull=True)
                | (Q(normal=NormalSide.DEBIT) & Q(ceiling__gte=F("balance") + F("held")))
                | (Q(normal=NormalSide.CREDIT) & Q(ceiling__gte=F("balance"))),
                name="ledger_account_within_ceiling",
            ),
        ]

    def __str__(self) -> str:
        owner = f"{self.owner}:{self.holder}" if self.holder is not None else self.owner
        return f"{owner}:{self.purpose}:{self.currency}"

    @property
    def cached_balance(self) -> int:
        """The cached balance of a vendor account; platform accounts have none (their
        balance is the sum of their entries: `ledger.selectors.account_balance`)."""
        if self.balance is None:
            raise ValueError(f"{self} keeps no cached balance")
        return self.balance

    @property
    def sign(self) -> int:
        """Multiplier from a signed (debit-positive) amount to this account's direction."""
        return 1 if self.normal == NormalSide.DEBIT else -1


class Transaction(models.Model):
    class Kind(models.TextChoices):
        WALLET_TOPUP = "wallet_topup"
        WALLET_TOPUP_REFUND = "wallet_topup_refund"
        DISPUTE_WITHDRAWAL = "dispute_withdrawal"
        DISPUTE_REINSTATEMENT = "dispute_reinstatement"
        ADJUSTMENT = "adjustment"
        ORDER_CHARGE = "order_charge"
        ORDER_COST = "order_cost"
        ORDER_COST_REVERSAL = "order_cost_reversal"
        PROVIDER_REFUND = "provider_refund"
        ORDER_REFUND = "order_refund"
        B2C_PAYMENT = "b2c_payment"
        B2C_REFUND = "b2c_refund"
        INVOICE_SETTLEMENT = "invoice_settlement"
        HOLD_CAPTURE = "hold_capture"
        TRANSFER = "transfer"
        ORDER_MARGIN = "order_margin"
        CARD_FEE = "card_fee"
        PAYOUT = "payout"
        SALE_TAX = "sale_tax"
        FX_CONVERSION = "fx_conversion"
        STOCK_PURCHASE = "stock_purchase"
        STOCK_SALE_COST = "stock_sale_cost"
        STOCK_REFUND_DUE = "stock_refund_due"
        STOCK_WRITE_OFF = "stock_write_off"

    reference = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=32)
    description = models.CharField(max_length=500, blank=True)
    order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_transactions",
    )
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return self.reference


class ImmutableRowError(Exception):
    pass


class Entry(models.Model):
    """One leg of a transaction. Append-only (a PG trigger refuses UPDATE/DELETE)."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField(help_text="signed minor units: debit +, credit -")
    balance_after = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="account balance (normal direction) after; NULL on accounts with no cached balance",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_amount_nonzero"),
        ]
        indexes = [models.Index(fields=["account", "-id"], name="ledger_entry_account_id_desc")]

    def __str__(self) -> str:
        return f"{self.account} {self.amount:+d}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ImmutableRowError("ledger entries are immutable; post a reversal instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableRowError("ledger entries are immutable; post a reversal instead")


class Hold(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        CAPTURED = "captured"
        VOIDED = "voided"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    # credited when the hold is captured (revenue for order reserves)
    counter_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="counter_holds"
    )
    amount = models.BigIntegerField()
    reference = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    order_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    captured_amount = models.BigIntegerField(null=True, blank=True)
    capture_transaction = models.OneToOneField(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="hold"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_hold_amount_gt_0"),
            models.CheckConstraint(
                condition=(Q(status="pending") & Q(resolved_at__isnull=True))
                | (~Q(status="pending") & Q(resolved_at__isnull=False)),
                name="ledger_hold_resolved_iff_not_pending",
            ),
            models.CheckConstraint(
                condition=Q(captured_amount__isnull=True)
                | (Q(captured_amount__gt=0) & Q(captured_amount__lte=F("amount"))),
                name="ledger_hold_capture_within_amount",
            ),
            # One open reserve per order at a time.
            models.UniqueConstraint(
                fields=["order_id"],
                condition=Q(status="pending") & Q(order_id__isnull=False),
                name="ledger_hold_one_pending_per_order",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="ledger_hold_status_created")]

    def __str__(self) -> str:
        return f"{self.reference} ({self.status})"


class LedgerCheckpoint(models.Model):
    """How far the ledger has been folded into `AccountCheckpoint` totals: every entry up
    to `through_entry_id` and every transaction up to `through_transaction_id`, each
    checked balanced and non-empty when it was folded in. One row per advance (beat,
    `ledger.checkpoints.ledger_checkpoint_advance`); the last one counts."""

    through_entry_id = models.BigIntegerField()
    through_transaction_id = models.BigIntegerField()
    entries_folded = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"through entry {self.through_entry_id}"


class AccountCheckpoint(models.Model):
    """An account's entries folded into one figure: `total` is the debit-positive sum of
    its entries with id <= `through_entry_id`. The balance is this plus the entries after
    it (an index range scan), so reading every balance costs the tail, not the ledger."""

    account = models.OneToOneField(Account, on_delete=models.PROTECT, related_name="checkpoint")
    total = models.BigIntegerField(default=0)
    through_entry_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.account}: {self.total:+d} through entry {self.through_entry_id}"
