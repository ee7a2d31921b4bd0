"""Cross-cutting models: the custom user (email login)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person who logs in: customer (API, JWT) or operator (admin). Email is the login."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    flag_reason = models.CharField(max_length=255, blank=True)
    # What the customer reads emails and pages in (one of settings.LANGUAGES): taken from
    # the browser at registration, changed with PATCH /me.
    language = models.CharField(max_length=8, default="en", db_default="en")
    # Tax details (ttelgo/tax.py): where the customer is, and a business customer's VAT
    # number with whether VIES validated it (checked when recorded, not per sale).
    country = models.CharField(max_length=2, blank=True, default="", db_default="")
    vat_number = models.CharField(max_length=20, blank=True, default="", db_default="")
    vat_number_valid = models.BooleanField(default=False, db_default=False)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email


class IdempotencyKey(models.Model):
    """One `Idempotency-Key` of one caller (API.md). The unique constraint on (scope, key)
    is what makes concurrent duplicates impossible; the application only reads it."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"

    scope = models.CharField(max_length=64, help_text="caller: user:<id>, vendor:<id>, anon")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and body")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    locked_at = models.DateTimeField()
    # The database session of the request running it ("pid:backend start"): a claim whose
    # session is gone (the database restarted, the worker was killed) is free again.
    holder = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class OutboxMessage(models.Model):
    """A Celery task to send, written in the transaction of the change that asks for it
    (`ttelgo.outbox.task_enqueue`): sent once that transaction commits and deleted, or,
    if the broker could not take it then (Redis down, the process killed), sent by the
    relay (`ttelgo.outbox.outbox_relay`) once the broker is back. At least once: the
    tasks it carries are idempotent."""

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    # The queue it goes to when its caller chose one (test mode's work: ttelgo/queues.py);
    # empty: the task's route (CELERY_TASK_ROUTES).
    queue = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"


class AuditLog(models.Model):
    """Who did what to which object, when, with the state before and after. Append-only:
    the application never updates or deletes a row, and on PostgreSQL a trigger refuses
    it (migration 0003)."""

    actor = models.ForeignKey(
        "ttelgo.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, default="system")
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True, db_index=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
            models.Index(fields=["-created_at", "-id"], name="audit_recent"),  # the console's list
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("audit rows are append-only")
        super().save(*args, **kwargs)


class Operations(models.Model):
    """Holds the operator permissions that are about actions, not one model's rows
    (refunds, credit, reconciliation …). No table: it exists for its permissions."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("cancel_orders", "Cancel orders"),
            ("refund_small", "Refund up to the support refund limit"),
            ("refund_any", "Refund any amount"),
            ("review_orders", "Approve or reject orders held for fraud review"),
            ("redrive_orders", "Re-drive provisioning of stuck orders"),
            ("approve_vendors", "Approve, suspend and reactivate vendors"),
            ("change_credit_limit", "Change vendor credit limits and pricing tiers"),
            ("adjust_wallet", "Post manual wallet adjustments"),
            ("settle_invoice", "Record invoice settlements"),
            ("run_reconciliation", "Run reconciliation and resolve findings"),
            ("manage_api_keys", "Issue and revoke vendor API keys"),
            ("replay_webhooks", "Replay webhook events and deliveries"),
            ("edit_fraud_rules", "Edit fraud rules"),
            ("edit_catalogue", "Edit catalogue overrides and price rules"),
            ("answer_tickets", "Answer and close support tickets"),
        ]

    def __str__(self) -> str:
        return "operations"
