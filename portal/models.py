"""What the portal keeps of its own: bulk orders from a CSV file (the rows as validated,
each row's outcome, and how far the job has come)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class BulkOrder(models.Model):
    """One uploaded CSV file, validated clean, placed row by row by one job. Each row is
    placed under its own idempotency key (the file's hash and the row's line), so the same
    file uploaded again replays its rows' orders instead of placing them twice."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"

    vendor = models.ForeignKey("vendors.Vendor", on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255, blank=True)
    file_sha256 = models.CharField(max_length=64)
    rows = models.JSONField(help_text="the validated rows, each with its line in the file")
    results = models.JSONField(default=dict, help_text="line -> order id or refusal")
    done = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["vendor", "-created_at"])]

    def __str__(self) -> str:
        return f"bulk order {self.pk} ({self.filename})"

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100
