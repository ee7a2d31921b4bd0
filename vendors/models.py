"""Vendors (B2B resellers)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager
from simple_history.models import HistoricalRecords

from ttelgo import sql
from ttelgo.validators import validate_single_line


def default_usage_alert_levels() -> list[int]:
    return [50, 80, 90, 100]


class Vendor(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        ACTIVE = "active"
        SUSPENDED = "suspended"
        CLOSED = "closed"

    class BillingMode(models.TextChoices):
        PREPAID = "prepaid"
        POSTPAID = "postpaid"

    name = models.CharField(max_length=200, validators=[validate_single_line])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    billing_mode = models.CharField(
        max_length=16, choices=BillingMode.choices, default=BillingMode.PREPAID
    )
    currency = models.CharField(max_length=3, default="USD")
    credit_limit = models.BigIntegerField(default=0, help_text="minor units; postpaid only")
    discount_bps = models.PositiveIntegerField(
        default=0, help_text="discount off retail in basis points (1500 = 15%)"
    )

    class Tier(models.TextChoices):
        STANDARD = "standard"
        SILVER = "silver"
        GOLD = "gold"
        PLATINUM = "platinum"

    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.STANDARD)
    usage_alert_levels = models.JSONField(
        default=default_usage_alert_levels,
        help_text="esim.usage_threshold fires once per eSIM at each of these % of data used",
    )
    low_balance_threshold = models.BigIntegerField(
        default=0, help_text="minor units; wallet.low_balance fires below it (0 = off)"
    )
    country = models.CharField(max_length=2, blank=True)
    # The portal shows every time in this zone, named (an IANA name, e.g. Europe/Madrid).
    timezone = models.CharField(max_length=64, default="UTC", db_default="UTC")
    # A business buyer's VAT number, and whether VIES validated it when it was recorded
    # (ttelgo/tax.py: a validated number from another EU country is reverse-charged).
    vat_number = models.CharField(max_length=20, blank=True, default="", db_default="")
    vat_number_valid = models.BooleanField(default=False, db_default=False)
    contact_email = models.EmailField(blank=True)
    contact_name = models.CharField(max_length=200, blank=True)
    billing_email = models.EmailField(blank=True)
    technical_email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    low_balance_alerted_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="set while below the threshold"
    )
    status_reason = models.TextField(blank=True, help_text="why it was last suspended/closed")
    approved_at = models.DateTimeField(null=True, blank=True)
    # Test mode: a vendor's test environment is a vendor of its own (own test wallet,
    # orders, eSIMs, keys and webhook endpoints) pointing at the live vendor it plays for.
    live_vendor = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="test_environment",
        editable=False,
    )
    # Sub-resellers (docs/MONEY.md "Sub-vendors"): a vendor created by another vendor,
    # its parent, buys at the parent's price plus the parent's markup (`markup_bps`, set
    # by the parent), never below it. Depth is capped by settings.SUB_VENDOR_MAX_DEPTH.
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sub_vendors",
        editable=False,
    )
    markup_bps = models.PositiveIntegerField(
        default=0, db_default=0, help_text="the parent's markup on its own price, basis points"
    )
    # A parent asks to receive its sub-vendors' order and eSIM webhooks as well.
    sub_vendor_webhooks = models.BooleanField(default=False, db_default=False)
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
            models.CheckConstraint(
                condition=models.Q(low_balance_threshold__gte=0),
                name="vendor_low_balance_threshold_gte_0",
            ),
            models.CheckConstraint(
                condition=models.Q(markup_bps__lte=100_000), name="vendor_markup_lte_1000pct"
            ),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")), name="vendor_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def livemode(self) -> bool:
        """False for a vendor's test environment: its objects carry `livemode: false`."""
        return self.live_vendor_id is None

    @property
    def access_status(self) -> str:
        """The status that decides what the vendor's keys may do: its own, except that a
        test environment follows its live vendor into a suspension or a closure (test
        mode is no way around either). A pending vendor's test environment stays open."""
        if self.live_vendor_id is not None:
            live = self.live_vendor
            if live is not None and live.status in (self.Status.SUSPENDED, self.Status.CLOSED):
                return live.status
        if self.status == self.Status.ACTIVE and self.parent_id is not None:
            # A sub-vendor stops with any vendor above it: it sells on their terms.
            for above in self.ancestors:
                if above.access_status in (self.Status.SUSPENDED, self.Status.CLOSED):
                    return above.access_status
        return self.status

    @property
    def ancestors(self) -> list[Vendor]:
        """The parent, its parent, ... up to the top vendor (nearest first)."""
        chain: list[Vendor] = []
        node = self.parent
        while node is not None and len(chain) < 32:
            chain.append(node)
            node = node.parent
        return chain

    @property
    def depth(self) -> int:
        """0 for a vendor the platform signed, 1 for its sub-vendor, and so on."""
        return len(self.ancestors)

    @property
    def notify_email(self) -> str:
        return self.technical_email or self.contact_email


class VendorUser(models.Model):
    """A member of a vendor's staff: logs in to the vendor portal (/portal/) with the
    rights of their role (vendors/members.py)."""

    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        DEVELOPER = "developer"
        FINANCE = "finance"
        VIEWER = "viewer"

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="vendor_memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ADMIN)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vendor", "user"], name="vendor_user_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.vendor}"


# What a key says about its mode, in front of the library's `prefix.secret`: a live key
# reads `ttg_live_...`, a test key `ttg_test_...` (keys issued before test mode have no
# marker and are live).
LIVE_KEY_MARKER = "ttg_live_"
TEST_KEY_MARKER = "ttg_test_"


def key_marker(livemode: bool) -> str:
    return LIVE_KEY_MARKER if livemode else TEST_KEY_MARKER


class VendorAPIKeyManager(APIKeyManager):
    def get_usable_keys(self) -> models.QuerySet:
        return super().get_usable_keys().select_related("vendor")

    def get_from_key(self, key: str) -> VendorAPIKey:
        """The usable key (with its vendor) that `key` is, else DoesNotExist. The library's
        lookup, as one hand-written statement: it runs on every vendor request, and the
        ORM's query building cost more than the statement (docs/PERFORMANCE.md)."""
        marker = next((m for m in (LIVE_KEY_MARKER, TEST_KEY_MARKER) if key.startswith(m)), "")
        key = key.removeprefix(marker)
        prefix, _, _ = key.partition(".")
        row = sql.select_one(
            [(VendorAPIKey, "k"), (Vendor, "v")],
            f"JOIN {sql.table(Vendor)} v ON v.id = k.vendor_id WHERE k.prefix = %s AND NOT k.revoked",
            [prefix],
        )
        if row is None:
            raise VendorAPIKey.DoesNotExist("No such key.")
        api_key, vendor = row
        if not api_key.is_valid(key):
            raise VendorAPIKey.DoesNotExist("Key is not valid.")
        if marker != key_marker(vendor.livemode) and not (marker == "" and vendor.livemode):
            raise VendorAPIKey.DoesNotExist("Key is not valid.")
        api_key.vendor = vendor
        return api_key


class VendorAPIKey(AbstractAPIKey):
    """An API key of a vendor. Stored hashed (SHA-512 by djangorestframework-api-key); the
    full key is shown once at creation. Revocation and expiry apply on the next request."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="api_keys")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["last_used_at"])

    objects: ClassVar[VendorAPIKeyManager] = VendorAPIKeyManager()  # type: ignore[assignment]

    @property
    def livemode(self) -> bool:
        return self.vendor.livemode

    @property
    def display_prefix(self) -> str:
        """What the key starts with, as its owner sees it (`ttg_test_AbCd1234`)."""
        return key_marker(self.vendor.livemode) + self.prefix

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "vendor API key"
        verbose_name_plural = "vendor API keys"


class VendorBrand(models.Model):
    """How a vendor's end customers see their eSIM's page (and anything else we show
    them): the vendor's name, logo, colours and support contacts instead of ours."""

    vendor = models.OneToOneField(Vendor, on_delete=models.CASCADE, related_name="brand")
    display_name = models.CharField(max_length=100, validators=[validate_single_line])
    logo_url = models.URLField(max_length=500, blank=True, help_text="https only")
    primary_color = models.CharField(max_length=7, default="#2563eb", help_text="#rrggbb")
    support_email = models.EmailField(blank=True)
    support_url = models.URLField(max_length=500, blank=True, help_text="https only")
    topup_url = models.URLField(
        max_length=500, blank=True, help_text="https only: where its customers buy more data"
    )
    sender_name = models.CharField(
        max_length=100,
        blank=True,
        validators=[validate_single_line],
        help_text="the From name of emails to its customers",
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(primary_color__regex=r"^#[0-9a-fA-F]{6}$"),
                name="vendor_brand_color_hex",
            )
        ]

    def __str__(self) -> str:
        return self.display_name


class ApiRequestLog(models.Model):
    """One request to the vendor API (the design's `api_usage_logs`), kept 30 days. Bodies
    are stored with secrets and personal data redacted, and cut at a few kilobytes. Written
    off the request path, in batches (vendors/request_log.py)."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="request_logs")
    created_at = models.DateTimeField(db_index=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    query = models.CharField(max_length=500, blank=True)
    status = models.PositiveSmallIntegerField()
    latency_ms = models.PositiveIntegerField()
    request_id = models.CharField(max_length=128, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    key_prefix = models.CharField(max_length=40, blank=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["vendor", "-created_at", "-id"], name="request_log_vendor_recent")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"


class VendorInvitation(models.Model):
    """An invitation by email to join a vendor's team with a role; accepted once, through
    the link in the email, before it expires."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=VendorUser.Role.choices)
    token = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="vendor_invitation_open_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.vendor} as {self.role}"
