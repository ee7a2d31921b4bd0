"""Vendors (B2B resellers)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager
from simple_history.models import HistoricalRecords


class Vendor(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACTIVE = "active"
        SUSPENDED = "suspended"
        CLOSED = "closed"

    class BillingMode(models.TextChoices):
        PREPAID = "prepaid"
        POSTPAID = "postpaid"

    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    billing_mode = models.CharField(
        max_length=16, choices=BillingMode.choices, default=BillingMode.PREPAID
    )
    currency = models.CharField(max_length=3, default="USD")
    credit_limit = models.BigIntegerField(default=0, help_text="minor units; postpaid only")
    discount_bps = models.PositiveIntegerField(
        default=0, help_text="discount off retail in basis points (1500 = 15%)"
    )
    country = models.CharField(max_length=2, blank=True)
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(credit_limit__gte=0), name="vendor_credit_limit_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(discount_bps__lte=10000), name="vendor_discount_lte_100pct"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class VendorUser(models.Model):
    """A member of a vendor's staff (console login)."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vendor_memberships"
    )
    role = models.CharField(max_length=16, default="admin")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vendor", "user"], name="vendor_user_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.vendor}"


class VendorAPIKeyManager(APIKeyManager):
    def get_usable_keys(self) -> models.QuerySet:
        return super().get_usable_keys().select_related("vendor")


class VendorAPIKey(AbstractAPIKey):
    """An API key of a vendor. Stored hashed (SHA-512 by djangorestframework-api-key); the
    full key is shown once at creation. Revocation and expiry apply on the next request."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="api_keys")
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[VendorAPIKeyManager] = VendorAPIKeyManager()  # type: ignore[assignment]

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "vendor API key"
        verbose_name_plural = "vendor API keys"
