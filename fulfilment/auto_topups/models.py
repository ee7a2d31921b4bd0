"""Auto top-up: rules that apply a bundle to an eSIM when its data runs low or its expiry
nears, and the record of each time one fired (fulfilment/auto_topups/services.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AutoTopupRule(models.Model):
    """When data left falls to `below_percent` % or less, or expiry is `expiry_days` days
    away or less, apply `bundle_code`: to one eSIM (`esim`), or to every eSIM of a vendor
    that has no rule of its own (`esim` empty). A vendor pays from its wallet or credit
    line; a customer off-session from a card saved with consent (one eSIM per rule)."""

    vendor = models.ForeignKey(
        "vendors.Vendor", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    esim = models.ForeignKey(
        "fulfilment.Esim", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    bundle_code = models.CharField(max_length=100)
    below_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    expiry_days = models.PositiveSmallIntegerField(null=True, blank=True)
    monthly_limit = models.PositiveSmallIntegerField(
        default=3, help_text="top-ups per eSIM and calendar month, at most"
    )
    active = models.BooleanField(default=True)
    # A customer's card, saved for off-session payments with the customer's consent.
    stripe_customer_id = models.CharField(max_length=100, blank=True)
    payment_method_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "orders_autotopuprule"
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(vendor__isnull=False, customer__isnull=True)
                | Q(vendor__isnull=True, customer__isnull=False, esim__isnull=False),
                name="auto_topup_one_buyer",
            ),
            models.CheckConstraint(
                condition=Q(below_percent__isnull=False) | Q(expiry_days__isnull=False),
                name="auto_topup_has_a_trigger",
            ),
            models.CheckConstraint(
                condition=Q(below_percent__isnull=True) | Q(below_percent__lte=99),
                name="auto_topup_percent_lt_100",
            ),
            models.UniqueConstraint(
                fields=["esim"], condition=Q(active=True), name="auto_topup_one_per_esim"
            ),
            models.UniqueConstraint(
                fields=["vendor"],
                condition=Q(active=True, esim__isnull=True),
                name="auto_topup_one_default_per_vendor",
            ),
        ]

    def __str__(self) -> str:
        target = f"eSIM {self.esim_id}" if self.esim_id else f"vendor {self.vendor_id}'s eSIMs"
        return f"Auto top-up of {target} with {self.bundle_code}"


class AutoTopupRun(models.Model):
    """One firing of a rule for one eSIM and one crossing (`trigger`, e.g. the data level
    crossed on the eSIM's n-th bundle): unique, so a crossing tops up once however many
    usage updates report it."""

    class Status(models.TextChoices):
        PENDING = "pending"  # recorded; the top-up is being placed
        APPLIED = "applied"  # its top-up order is placed (and paid)
        ACTION_REQUIRED = "action_required"  # the customer's bank asks them to confirm
        FAILED = "failed"  # refused (funds, card, bundle); `detail` says why
        LIMIT_REACHED = "limit_reached"  # the rule's monthly limit was used up

    rule = models.ForeignKey(AutoTopupRule, on_delete=models.CASCADE, related_name="runs")
    esim = models.ForeignKey("fulfilment.Esim", on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "orders_autotopuprun"
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["esim", "trigger"], name="auto_topup_once_per_crossing")
        ]

    def __str__(self) -> str:
        return f"Auto top-up of eSIM {self.esim_id} ({self.trigger}): {self.status}"
