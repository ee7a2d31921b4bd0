"""Postpaid vendors' monthly invoices and their lines. The tables keep the names they had
when these models lived in the ledger app."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ttelgo.money import Money


class VendorAccount(models.Model):
    """A vendor's ledger account (wallet or receivable, one per currency). The owner points
    at its account; the ledger only knows the vendor's id as the account's `holder`."""

    vendor = models.ForeignKey(
        "vendors.Vendor", on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    account = models.OneToOneField(
        "ledger.Account", on_delete=models.PROTECT, related_name="vendor_link"
    )

    class Meta:
        ordering = ("vendor_id", "account_id")

    def __str__(self) -> str:
        return f"{self.vendor_id}: {self.account_id}"


class Invoice(models.Model):
    class Status(models.TextChoices):
        ISSUED = "issued"
        OVERDUE = "overdue"
        PAID = "paid"

    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="invoices")
    account = models.ForeignKey("ledger.Account", on_delete=models.PROTECT, related_name="invoices")
    period_start = models.DateField()
    period_end = models.DateField(help_text="last day of the period (inclusive)")
    currency = models.CharField(max_length=3)
    total = models.BigIntegerField(help_text="net charges of the period, minor units")
    opening_balance = models.BigIntegerField(help_text="receivable balance at period start")
    closing_balance = models.BigIntegerField(help_text="receivable balance at period end")
    paid_amount = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ISSUED)
    issued_at = models.DateTimeField(auto_now_add=True)
    due_date = models.DateField()
    paid_at = models.DateTimeField(null=True, blank=True)
    # VAT (ttelgo/tax.py): the part of `total` that is VAT (prices are tax-inclusive),
    # both parties' VAT numbers and the treatment's wording, as of the invoice's issue.
    tax_amount = models.BigIntegerField(default=0, db_default=0, help_text="minor units")
    seller_vat_number = models.CharField(max_length=20, blank=True, default="", db_default="")
    buyer_vat_number = models.CharField(max_length=20, blank=True, default="", db_default="")
    tax_note = models.CharField(max_length=255, blank=True, default="", db_default="")

    class Meta:
        db_table = "ledger_invoice"
        ordering = ("-period_start", "vendor_id")
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "period_start"], name="ledger_invoice_one_per_vendor_period"
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0), name="ledger_invoice_paid_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"INV-{self.pk:06d} {self.vendor_id} {self.period_start:%Y-%m}"

    @property
    def number(self) -> str:
        return f"INV-{self.pk:06d}"

    @property
    def total_display(self) -> str:
        return str(Money(self.total, self.currency))

    @property
    def outstanding(self) -> int:
        return max(self.total - self.paid_amount, 0)


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    day = models.DateField()
    kind = models.CharField(max_length=32)
    bundle_code = models.CharField(max_length=100, blank=True)
    quantity = models.PositiveIntegerField()
    amount = models.BigIntegerField(help_text="minor units; refunds and credits negative")
    description = models.CharField(max_length=255)

    class Meta:
        db_table = "ledger_invoiceline"
        ordering = ("day", "kind", "bundle_code")

    def __str__(self) -> str:
        return f"{self.day} {self.description} {self.amount}"


class WalletTransfer(models.Model):
    """Money a parent vendor moves into a sub-vendor's wallet (or takes back from it): one
    ledger transaction (`transfer:{public_id}`), debit the payer's account (its wallet, or
    its receivable when postpaid), credit the payee's wallet."""

    class Direction(models.TextChoices):
        FUND = "fund"  # parent -> sub-vendor
        WITHDRAW = "withdraw"  # sub-vendor -> parent (the parent takes money back)

    public_id = models.CharField(max_length=40, unique=True, editable=False)
    parent = models.ForeignKey(
        "vendors.Vendor", on_delete=models.PROTECT, related_name="transfers_made"
    )
    sub_vendor = models.ForeignKey(
        "vendors.Vendor", on_delete=models.PROTECT, related_name="transfers_received"
    )
    direction = models.CharField(max_length=8, choices=Direction.choices)
    amount = models.BigIntegerField(help_text="minor units")
    currency = models.CharField(max_length=3)
    livemode = models.BooleanField(default=True)
    description = models.CharField(max_length=255, blank=True)
    transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, related_name="wallet_transfer"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_transfer_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return self.public_id


class OrderMargin(models.Model):
    """One level's margin on a sub-vendor's order, fixed when the order reserves its funds:
    what the level above the buyer earns (its price to the level below less its own). The
    capture books it: revenue -> that vendor's account (`order:{id}:margin`)."""

    order_id = models.BigIntegerField(db_index=True)
    vendor = models.ForeignKey(
        "vendors.Vendor", on_delete=models.PROTECT, related_name="order_margins"
    )
    amount = models.BigIntegerField(help_text="minor units, for the whole order")
    currency = models.CharField(max_length=3)

    class Meta:
        ordering = ("order_id", "id")
        constraints = [
            models.UniqueConstraint(fields=["order_id", "vendor"], name="order_margin_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="order_margin_gte_0"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id}: {self.vendor_id} {self.amount}"
