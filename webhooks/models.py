"""Inbound events (Stripe, provider callbacks) stored before they are processed."""

from __future__ import annotations

from django.db import models


class InboundEvent(models.Model):
    class Source(models.TextChoices):
        STRIPE = "stripe"
        ESIMGO = "esimgo"

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
