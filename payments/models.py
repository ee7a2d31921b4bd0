"""Payments: one row per Stripe PaymentIntent we created, and the refunds made against it.

Amounts are integer minor units with the currency beside them (Stripe's own convention).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from ttelgo.crypto import EncryptedCharField


class Payment(models.Model):
    class Kind(models.TextChoices):
        ORDER = "order"
        WALLET_TOPUP = "wallet_topup"  # a vendor's card payment: its wallet, or its credit line
        INVOICE = "invoice"  # a postpaid vendor paying one invoice by card

    class Status(models.TextChoices):
        PENDING = "pending"  # created, waiting for the customer to pay
        PROCESSING = "processing"
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # last attempt declined; Stripe lets the customer retry
        CANCELED = "canceled"

    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    payment_intent_id = models.CharField(max_length=255, unique=True)
    # Shown to the customer again (GET order), so encrypted rather than hashed.
    client_secret = EncryptedCharField(blank=True, purpose="ttelgo.payments.client_secret")
    amount = models.BigIntegerField(help_text="minor units")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # A test-mode payment lives at the sandbox gateway, whatever PAYMENTS_BACKEND is.
    livemode = models.BooleanField(default=True, db_default=True)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    vendor = models.ForeignKey(
        "vendors.Vendor", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    failure_reason = models.TextField(blank=True)
    refunded_amount = models.BigIntegerField(default=0, help_text="minor units")
    disputed_at = models.DateTimeField(null=True, blank=True)
    # The card that paid (from Stripe's charge events), for fraud rules.
    card_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    card_country = models.CharField(max_length=2, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="payment_refunded_within_amount",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="order", order__isnull=False)
                    | Q(kind="wallet_topup", vendor__isnull=False, order__isnull=True)
                    | Q(
                        kind="invoice",
                        vendor__isnull=False,
                        invoice__isnull=False,
                        order__isnull=True,
                    )
                ),
                name="payment_kind_matches_target",
            ),
            # One PaymentIntent per order: creating it twice returns the first.
            models.UniqueConstraint(
                fields=["order"], condition=Q(kind="order"), name="payment_one_per_order"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="payment_status_age")]

    def __str__(self) -> str:
        return f"{self.payment_intent_id} ({self.kind}, {self.status})"

    @property
    def fully_refunded(self) -> bool:
        return self.refunded_amount >= self.amount


class Refund(models.Model):
    """Our refund row exists before the gateway call: its id is the gateway idempotency key,
    so a retried refund can never become a second refund."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    gateway_refund_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    amount = models.BigIntegerField(help_text="minor units")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True)
    error = models.TextField(blank=True)
    # What this refund pays back, when one thing may be paid back only once (an eSIM
    # refund: "esim_refund:<id>"): asking again returns this row, and the gateway's
    # idempotency key is derived from it.
    key = models.CharField(max_length=100, blank=True, default="", db_default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
            models.UniqueConstraint(
                fields=["payment", "key"], condition=~Q(key=""), name="refund_one_per_key"
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.pk} of {self.payment_id} ({self.status})"


class PaymentProfile(models.Model):
    """A customer at the gateway (Stripe Customer) and the card the customer saved, with
    consent, for payments made without them (auto top-ups)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payment_profile"
    )
    stripe_customer_id = models.CharField(max_length=100)
    payment_method_id = models.CharField(max_length=100, blank=True)
    card_saved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Payment profile of {self.user_id}"
