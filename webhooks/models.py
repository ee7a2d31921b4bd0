"""Inbound events (Stripe, provider callbacks) stored before they are processed."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords


class InboundEvent(models.Model):
    class Source(models.TextChoices):
        STRIPE = "stripe"
        ESIMGO = "esimgo"
        AIRALO = "airalo"

    class Status(models.TextChoices):
        RECEIVED = "received"
        PROCESSED = "processed"
        FAILED = "failed"
        IGNORED = "ignored"

    source = models.CharField(max_length=16, choices=Source.choices)
    event_id = models.CharField(max_length=255, help_text="the sender's own event id")
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Set when its processing is queued, cleared when a worker runs it: the re-drive does
    # not queue it again before then (ttelgo/queues.py).
    queued_until = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-received_at",)
        constraints = [
            # Database-enforced dedupe: the same event delivered twice is stored once.
            models.UniqueConstraint(fields=["source", "event_id"], name="inbound_event_unique"),
        ]
        indexes = [models.Index(fields=["status", "received_at"])]

    def __str__(self) -> str:
        return f"{self.source}:{self.event_type}:{self.event_id}"


class WebhookEndpoint(models.Model):
    """A vendor's URL that receives signed events (Standard Webhooks)."""

    vendor = models.ForeignKey(
        "vendors.Vendor", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=2000)
    events = models.JSONField(default=list, help_text="subscribed event types")
    # The signing secret is needed to sign, so it is kept recoverable but encrypted at rest
    # (webhooks.crypto); the API shows it once, at creation.
    secret_encrypted = models.TextField(editable=False)
    # After a rotation the old secret keeps signing beside the new one until it expires,
    # so the vendor can switch its verifier without dropping a delivery.
    previous_secret_encrypted = models.TextField(editable=False, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    description = models.CharField(max_length=200, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Disabled by us after failing for days (or a 410), not by the vendor or an operator.
    disabled_automatically = models.BooleanField(default=False)
    # Health since the last successful attempt (webhooks.services): the attempts that
    # failed in a row, when the first of them was, and until when the endpoint's deliveries
    # wait (its backoff). A success clears all three.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(
        excluded_fields=[
            "secret_encrypted",
            "previous_secret_encrypted",
            "consecutive_failures",
            "failing_since",
            "paused_until",
        ]
    )

    class Meta:
        ordering = ("-id",)
        indexes = [models.Index(fields=["vendor", "enabled"])]

    def __str__(self) -> str:
        return f"{self.vendor_id}:{self.url}"

    def subscribes_to(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events


class WebhookEvent(models.Model):
    """One event for one vendor; its `public_id` is the `webhook-id` of every delivery."""

    vendor = models.ForeignKey(
        "vendors.Vendor", on_delete=models.CASCADE, related_name="webhook_events"
    )
    public_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=64)
    data = models.JSONField(default=dict)
    livemode = models.BooleanField(default=True, db_default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"{self.public_id}:{self.type}"


class WebhookDelivery(models.Model):
    """One event to one endpoint, retried on a schedule until it succeeds or gives up."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The endpoint's vendor, copied so a vendor's delivery log is one index range
    # (`webhook_delivery_vendor_recent`) however many deliveries other vendors have.
    vendor = models.ForeignKey(
        "vendors.Vendor", on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Attempts made in the current schedule (a replay starts a new schedule).
    schedule_attempts = models.PositiveIntegerField(default=0)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set when its send is queued, cleared when a worker claims it: the due sweep does not
    # queue it again before then (ttelgo/queues.py).
    queued_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-id",)
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_unique")
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["vendor", "-id"], name="webhook_delivery_vendor_recent"),
            # The next pending delivery of one endpoint (handed a freed slot).
            models.Index(
                fields=["endpoint", "next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_endpoint_due",
            ),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"


class WebhookAttempt(models.Model):
    """The log of one HTTP attempt of a delivery."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True, help_text="first 1 KiB of the response")
    error = models.CharField(max_length=500, blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"attempt {self.pk} -> {self.status_code or self.error}"
