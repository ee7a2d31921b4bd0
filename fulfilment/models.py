"""eSIM records: what a completed order delivered. Ownership (customer or vendor) is the
order's; an eSIM is never visible without going through its order's buyer.

The table keeps the name it had when the model lived in the esims app."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q

from ttelgo.money import Money


class Esim(models.Model):
    class Status(models.TextChoices):
        RELEASED = "released"  # ready to install
        INSTALLED = "installed"
        ACTIVE = "active"
        DEPLETED = "depleted"
        EXPIRED = "expired"
        REVOKED = "revoked"

    iccid = models.CharField(max_length=22, unique=True)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="esims")
    bundle_code = models.CharField(max_length=100, help_text="the latest bundle applied")
    smdp_address = models.CharField(max_length=255)
    matching_id = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RELEASED)
    livemode = models.BooleanField(default=True, db_default=True)
    # Cached usage in MB (the provider reports bytes; we keep what the API shows).
    initial_mb = models.PositiveIntegerField(default=0)
    remaining_mb = models.PositiveIntegerField(default=0)
    unlimited = models.BooleanField(default=False)
    usage_state = models.CharField(max_length=16, blank=True)
    # Each bundle applied to the eSIM as the provider last reported it (code, state, MB,
    # assigned and expiry times); the totals above are the sum of the usable ones.
    bundles = models.JSONField(default=list, blank=True)
    usage_updated_at = models.DateTimeField(null=True, blank=True)
    # The lifecycle events already sent for this eSIM ("installed", "usage:80",
    # "expiring:3", ...): each fires once per eSIM and level (a top-up re-arms usage).
    events_sent = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The install page's signed link names this number; raising it revokes every link
    # handed out so far (fulfilment/links.py).
    page_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[Esim]] = models.Manager()

    class Meta:
        db_table = "esims_esim"
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["order", "id"], name="esim_order_id"),
            # The console's list and a vendor's, newest first.
            models.Index(fields=["-created_at", "-id"], name="esim_recent"),
        ]

    def __str__(self) -> str:
        return self.iccid

    @property
    def lpa(self) -> str:
        return f"LPA:1${self.smdp_address}${self.matching_id}"

    @property
    def used_mb(self) -> int:
        return max(0, self.initial_mb - self.remaining_mb)


class EsimRefund(models.Model):
    """A customer's or vendor's request to refund an eSIM that was never installed: taken
    back at the provider and paid back to the card or the vendor account (`refunded`), or
    left to operators (`in_review`, e.g. a disputed order) who refund or reject it.

    One refund per eSIM, held by the database: at most one row that is not `rejected` per
    eSIM (a unique constraint), and one process at a time carries it out, the one whose
    conditional update moved it to `refunding` (a claim that lapses after
    `CLAIM_SECONDS`, so a carry-out cut short by a crash is taken up again). Its money
    moves under keys derived from its id (fulfilment/refunds.py), so carrying it out
    twice pays once."""

    class Status(models.TextChoices):
        REQUESTED = "requested"  # waiting to be carried out (again: a payment failed)
        REFUNDING = "refunding"  # claimed: being revoked, then paid back
        REFUNDED = "refunded"
        IN_REVIEW = "in_review"
        REJECTED = "rejected"

    esim = models.ForeignKey(Esim, on_delete=models.PROTECT, related_name="refunds")
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="minor units")
    currency = models.CharField(max_length=3)
    reason = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.CharField(max_length=100, help_text="customer:<id> or vendor:<id>")
    resolution = models.TextField(blank=True)
    # When the current carry-out claimed it (`refunding`); an older claim has lapsed.
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "orders_esimrefund"
        ordering = ("-created_at", "-id")
        constraints = [
            # One live request per eSIM; a rejected one may be asked again.
            models.UniqueConstraint(
                fields=["esim"],
                condition=~Q(status="rejected"),
                name="esim_refund_one_live_per_esim",
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="esim_refund_amount_gte_0"),
        ]

    def __str__(self) -> str:
        return f"Refund of {self.esim_id} ({self.status})"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class ProviderRefund(models.Model):
    """What the provider owes us for a bundle it took back (a revocation with a refund to
    our balance). Booked as a receivable when the bundle is revoked; `received` once the
    provider reports the bundle revoked (the refund is then on our balance), or, for a
    provider that pays back in credit (Airalo), once a credit is matched to it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RECEIVED = "received"

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+")
    iccid = models.CharField(max_length=22)
    bundle_code = models.CharField(max_length=100)
    amount = models.BigIntegerField(help_text="minor units")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    received_at = models.DateTimeField(null=True, blank=True)
    # Who owes it ("" before refunds recorded it: the default provider). Airalo pays back
    # in credit after a manual review: its refunds clear when a credit is matched to them.
    provider = models.CharField(max_length=20, blank=True, default="")
    credit_reference = models.CharField(
        max_length=100, blank=True, default="", help_text="the provider's credit it came back in"
    )

    class Meta:
        db_table = "orders_providerrefund"
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["order", "iccid", "bundle_code"], name="provider_refund_once"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="provider_refund_amount_gt_0"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="provider_refund_due")]

    def __str__(self) -> str:
        return f"Provider refund of {self.bundle_code} on {self.iccid} ({self.status})"

    @property
    def money(self) -> Money:
        return Money(self.amount, self.currency)


class TestModeEmail(models.Model):
    """An email to a traveller that a test-mode order would have sent: kept here and shown
    in the portal's test outbox instead (as Stripe's test mode does), never sent, so test
    orders placed with a real address reach nobody."""

    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.CASCADE, related_name="+")
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    livemode = models.BooleanField(default=False, help_text="always false: test mode's mail")
    to = models.CharField(max_length=320)
    from_email = models.CharField(max_length=320)
    reply_to = models.CharField(max_length=320, blank=True)
    subject = models.CharField(max_length=998)
    body = models.TextField(help_text="the text part, as it would have been sent")
    html = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["vendor", "-created_at"])]

    def __str__(self) -> str:
        return f"test-mode email to {self.to}: {self.subject}"
