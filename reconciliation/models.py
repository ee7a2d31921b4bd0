"""Reconciliation runs and their findings (the job itself is `reconciliation/services.py`:
it compares the ledger, Stripe and the provider with our records).

The tables keep the names they had when these models lived in the ledger app."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ReconciliationRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=16, default="schedule", help_text="schedule | operator")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    window_start = models.DateTimeField(help_text="Stripe and provider records since then")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    findings_count = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True, help_text="findings per check")
    error = models.TextField(blank=True)
    # A worker runs the checks one by one and stamps each step; a run whose stamp is older
    # than RECONCILIATION_STALE_SECONDS lost its worker and is marked failed by a sweep.
    checks_done = models.PositiveSmallIntegerField(default=0)
    checks_total = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "ledger_reconciliationrun"
        ordering = ("-started_at", "-id")

    def __str__(self) -> str:
        return f"Reconciliation {self.pk} ({self.status}, {self.findings_count} findings)"


class ReconciliationFinding(models.Model):
    class Category(models.TextChoices):
        LEDGER = "ledger"
        PAYMENTS = "payments", "Stripe vs payments"
        PROVIDER = "provider", "Provider vs eSIMs"
        STUCK = "stuck", "Stuck orders"
        REFUNDS = "refunds", "Refunds vs revoked eSIMs"
        PAYOUTS = "payouts", "Stripe payouts vs clearing"

    class Fix(models.TextChoices):
        REDRIVE = "redrive", "Re-drive provisioning"
        REFUND = "refund", "Refund the payment"
        SYNC = "sync", "Re-read the payment from Stripe"
        RESOLVE = "resolve", "Mark resolved with a note"

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="findings")
    category = models.CharField(max_length=16, choices=Category.choices)
    code = models.CharField(max_length=64)
    message = models.TextField()
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=255, blank=True)
    order_id = models.BigIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    fix = models.CharField(max_length=16, choices=Fix.choices, default=Fix.RESOLVE)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    resolution = models.TextField(blank=True, help_text="what was done, and why")
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "ledger_reconciliationfinding"
        ordering = ("run", "category", "id")
        indexes = [models.Index(fields=["status", "category"], name="recon_finding_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="open") | ~Q(resolution=""),
                name="recon_finding_resolved_has_note",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.message[:80]}"
