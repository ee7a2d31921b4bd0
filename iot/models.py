"""The fleet's records: SIMs (synced from the provider), their usage per day, SMS both
ways, paid top-ups, bulk jobs and each vendor's fleet settings. Every vendor-visible row
carries `livemode` (test mode is a wall)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class QuotaLevel(models.TextChoices):
    """Where a quota stands against the alert threshold; a crossing fires once."""

    OK = "ok"
    LOW = "low"  # under the threshold (1NCE: 20 % left)
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"


class IotSim(models.Model):
    class Status(models.TextChoices):
        ENABLED = "enabled"
        DISABLED = "disabled"

    # None: in our provider account but not given to a vendor yet (operators assign it).
    vendor = models.ForeignKey(
        "vendors.Vendor", null=True, blank=True, on_delete=models.PROTECT, related_name="iot_sims"
    )
    livemode = models.BooleanField(default=True)
    provider = models.CharField(max_length=16, default="1nce")
    iccid = models.CharField(max_length=22)
    imsi = models.CharField(max_length=20, blank=True)
    msisdn = models.CharField(max_length=20, blank=True)
    imei = models.CharField(max_length=20, blank=True)
    imei_lock = models.BooleanField(default=False)
    ip_address = models.CharField(max_length=45, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENABLED)
    label = models.CharField(max_length=255, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Quotas as last read (bytes / messages left of the total); None: never read.
    data_left_bytes = models.BigIntegerField(null=True, blank=True)
    data_total_bytes = models.BigIntegerField(null=True, blank=True)
    sms_left = models.IntegerField(null=True, blank=True)
    sms_total = models.IntegerField(null=True, blank=True)
    quota_expires_at = models.DateTimeField(null=True, blank=True)
    data_level = models.CharField(max_length=16, choices=QuotaLevel.choices, default="ok")
    sms_level = models.CharField(max_length=16, choices=QuotaLevel.choices, default="ok")
    # This calendar month's data (sum of its usage days), for filters without a join.
    month_start = models.DateField(null=True, blank=True)
    month_data_bytes = models.BigIntegerField(default=0)
    # Auto top-up: None follows the fleet's setting.
    auto_topup = models.BooleanField(null=True, blank=True)
    auto_topup_monthly_cap = models.PositiveIntegerField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    # When the status last moved here: an older provider event cannot move it back.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    events_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            models.UniqueConstraint(fields=["provider", "iccid"], name="iot_sim_iccid_per_provider")
        ]
        indexes = [
            models.Index(fields=["vendor", "id"], name="iot_sim_vendor_id"),
            models.Index(fields=["vendor", "status", "id"], name="iot_sim_vendor_status"),
            models.Index(fields=["vendor", "label"], name="iot_sim_vendor_label"),
        ]

    def __str__(self) -> str:
        return self.iccid


class IotUsageDay(models.Model):
    """One SIM's use on one day. `vendor` and `livemode` are copied from the SIM so a fleet's
    month is one index range scan on (vendor, day), however many SIMs it has."""

    sim = models.ForeignKey(IotSim, on_delete=models.CASCADE, related_name="usage_days")
    vendor = models.ForeignKey(
        "vendors.Vendor", null=True, on_delete=models.PROTECT, related_name="+"
    )
    livemode = models.BooleanField(default=True)
    day = models.DateField()
    data_bytes = models.BigIntegerField(default=0)
    sms_mo = models.IntegerField(default=0)
    sms_mt = models.IntegerField(default=0)

    class Meta:
        ordering = ("sim", "day")
        constraints = [models.UniqueConstraint(fields=["sim", "day"], name="iot_usage_sim_day")]
        indexes = [models.Index(fields=["vendor", "day"], name="iot_usage_vendor_day")]

    def __str__(self) -> str:
        return f"{self.sim_id}@{self.day}"


class IotUsageRollup(models.Model):
    """A fleet's use on one day: the sum of its `IotUsageDay` rows of that (vendor, livemode,
    day). `usage_sync` adds the difference of each SIM-day it overwrites in the same
    transaction (atomic increments), so a fleet's month is at most 31 rows whatever its size;
    rows of SIMs given to no vendor are not summed."""

    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(default=True)
    day = models.DateField()
    data_bytes = models.BigIntegerField(default=0)
    sms_mo = models.IntegerField(default=0)
    sms_mt = models.IntegerField(default=0)

    class Meta:
        ordering = ("vendor", "day")
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "livemode", "day"], name="iot_usage_rollup_vendor_mode_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.vendor_id}/{self.livemode}@{self.day}"


class IotSimEvent(models.Model):
    """One event the provider logged for a SIM (attach, detach, data session, quota
    warning, status change), kept once per provider id. `vendor` and `livemode` are
    copied from the SIM; a SIM's events are read newest first on (sim, at)."""

    class Kind(models.TextChoices):
        ATTACH = "attach"  # Update (GPRS) location
        DETACH = "detach"  # Purge (GPRS) location
        SESSION_START = "session_start"  # Create PDP context
        SESSION_END = "session_end"  # Delete PDP context
        QUOTA_WARNING = "quota_warning"  # threshold reached / quota exhausted
        STATUS_CHANGE = "status_change"  # the SIM was enabled / disabled
        OTHER = "other"

    sim = models.ForeignKey(IotSim, on_delete=models.CASCADE, related_name="events")
    vendor = models.ForeignKey(
        "vendors.Vendor", null=True, on_delete=models.PROTECT, related_name="+"
    )
    livemode = models.BooleanField(default=True)
    provider_id = models.CharField(max_length=128)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    upstream_kind = models.CharField(max_length=128, blank=True)  # the provider's text
    at = models.DateTimeField()
    severity = models.CharField(max_length=32, blank=True)
    alert = models.BooleanField(default=False)
    description = models.CharField(max_length=500, blank=True)
    # For a status change: the status it moved the SIM to (enabled | disabled).
    status = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["sim", "provider_id"], name="iot_event_once_per_sim")
        ]
        indexes = [
            models.Index(fields=["sim", "-at", "-id"], name="iot_event_sim_at"),
            models.Index(fields=["vendor", "livemode", "-id"], name="iot_event_vendor_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.sim_id} at {self.at}"


class IotSms(models.Model):
    class Direction(models.TextChoices):
        MT = "mt"  # to the device
        MO = "mo"  # from the device (a reply)

    class Status(models.TextChoices):
        QUEUED = "queued"  # ours, not at the provider yet
        PENDING = "pending"  # accepted by the provider
        DELIVERED = "delivered"
        FAILED = "failed"
        EXPIRED = "expired"
        RECEIVED = "received"  # an MO message

    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(default=True)
    sim = models.ForeignKey(IotSim, on_delete=models.CASCADE, related_name="sms")
    direction = models.CharField(max_length=2, choices=Direction.choices)
    text = models.CharField(max_length=1600)
    status = models.CharField(max_length=16, choices=Status.choices)
    provider_id = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(
                fields=["sim", "provider_id"],
                condition=~Q(provider_id=""),
                name="iot_sms_provider_id_per_sim",
            )
        ]
        indexes = [models.Index(fields=["vendor", "direction", "id"], name="iot_sms_vendor_dir")]

    def __str__(self) -> str:
        return f"SMS {self.pk} ({self.direction})"


class IotTopup(models.Model):
    """One paid quota top-up: reserved on the vendor's wallet/credit, bought at the
    provider, then charged (or released)."""

    class Status(models.TextChoices):
        RESERVED = "reserved"
        COMPLETED = "completed"
        FAILED = "failed"

    class Source(models.TextChoices):
        API = "api"
        AUTO = "auto"

    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(default=True)
    sim = models.ForeignKey(IotSim, on_delete=models.PROTECT, related_name="topups")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RESERVED)
    price_amount = models.BigIntegerField()
    cost_amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    data_bytes = models.BigIntegerField(default=0)
    sms = models.IntegerField(default=0)
    provider_order = models.CharField(max_length=64, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # The SIM's data total as we knew it before buying: the reconciliation's evidence.
    data_total_before = models.BigIntegerField(null=True, blank=True)
    # Set when the buy call ended without an answer (a read timeout, a 5xx after sending):
    # `topup_reconcile` asks the provider later and charges or releases the hold once.
    outcome_unknown_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-id",)
        indexes = [
            models.Index(fields=["vendor", "created_at"], name="iot_topup_vendor_at"),
            models.Index(
                fields=["created_at"],
                condition=Q(status="reserved"),
                name="iot_topup_reserved_at",
            ),
        ]

    def __str__(self) -> str:
        return f"Top-up {self.pk}"


class IotBulkJob(models.Model):
    """Enable or disable many SIMs: one job, its progress counted as chunks are applied."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"

    class Action(models.TextChoices):
        ENABLE = "enable"
        DISABLE = "disable"

    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(default=True)
    action = models.CharField(max_length=8, choices=Action.choices)
    sim_ids = models.JSONField(default=list)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"Bulk {self.action} {self.pk}"


class IotFleetSettings(models.Model):
    """A vendor's fleet-wide auto top-up: on for every SIM that does not say otherwise,
    at most `monthly_cap` automatic top-ups a calendar month across the fleet, and
    `sim_monthly_cap` per SIM unless the SIM sets its own."""

    vendor = models.OneToOneField(
        "vendors.Vendor", on_delete=models.CASCADE, related_name="iot_fleet"
    )
    auto_topup = models.BooleanField(default=False)
    monthly_cap = models.PositiveIntegerField(default=0)
    sim_monthly_cap = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"IoT fleet of vendor {self.vendor_id}"
