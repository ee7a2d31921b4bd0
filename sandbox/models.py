"""The simulators' own state: the sandbox eSIM provider's orders, eSIMs and bundle
assignments, and the sandbox payment gateway's PaymentIntents and refunds.

They live apart from the production apps (the tables keep the names they had when they
sat in `esims` and `payments`). Production settings refuse both simulators.
"""

from __future__ import annotations

from django.db import models


# --- the eSIM provider simulator -----------------------------------------------------------
# Kept in the database (not process memory or a cache that evicts) so the web process and a
# Celery worker see the same simulated orders and eSIMs, on SQLite and PostgreSQL alike.
class SandboxOrder(models.Model):
    reference = models.CharField(max_length=40, unique=True, help_text="provider-side id")
    client_reference = models.CharField(max_length=100, db_index=True)
    bundle_code = models.CharField(max_length=100)
    quantity = models.PositiveIntegerField()
    cost_amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    kind = models.CharField(max_length=10, default="order")  # order | topup
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(help_text="when a 'processing' order completes")

    class Meta:
        db_table = "esims_sandboxorder"
        ordering = ("id",)

    def __str__(self) -> str:
        return self.reference


class SandboxEsim(models.Model):
    iccid = models.CharField(max_length=19, unique=True)
    order = models.ForeignKey(SandboxOrder, on_delete=models.CASCADE, related_name="esims")
    matching_id = models.CharField(max_length=40)
    smdp_address = models.CharField(max_length=100)
    customer_ref = models.CharField(max_length=100, blank=True)

    class Meta:
        db_table = "esims_sandboxesim"
        ordering = ("id",)

    def __str__(self) -> str:
        return self.iccid


class SandboxBundleAssignment(models.Model):
    esim = models.ForeignKey(SandboxEsim, on_delete=models.CASCADE, related_name="assignments")
    order = models.ForeignKey(SandboxOrder, on_delete=models.CASCADE, related_name="assignments")
    bundle_code = models.CharField(max_length=100)
    initial_bytes = models.BigIntegerField()
    unlimited = models.BooleanField(default=False)
    validity_days = models.PositiveIntegerField()
    assigned_at = models.DateTimeField()
    revoked = models.BooleanField(default=False)
    # Test mode's simulations: what the traveller did, set by hand instead of by the clock.
    simulated_used_permille = models.PositiveIntegerField(null=True, blank=True)
    simulated_state = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        db_table = "esims_sandboxbundleassignment"
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.bundle_code} on {self.esim_id}"


class SandboxScriptedFailure(models.Model):
    """A client reference whose order the simulator refuses (test mode's simulated
    provisioning failure)."""

    client_reference = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.client_reference


# --- the payment gateway simulator ------------------------------------------------------
class SandboxPaymentIntent(models.Model):
    """The sandbox gateway's own PaymentIntents (used only with PAYMENTS_BACKEND=sandbox)."""

    id = models.CharField(primary_key=True, max_length=64)
    idempotency_key = models.CharField(max_length=255, unique=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=32, default="requires_payment_method")
    client_secret = models.CharField(max_length=255)
    metadata = models.JSONField(default=dict)
    latest_charge = models.CharField(max_length=64, blank=True)
    last_payment_error = models.JSONField(null=True, blank=True)
    created = models.BigIntegerField(help_text="unix seconds, as Stripe reports it")
    customer = models.CharField(max_length=64, blank=True)
    # The card it is (to be) paid with; saved for off-session use when `setup_future_usage`.
    payment_method = models.CharField(max_length=64, blank=True)
    setup_future_usage = models.CharField(max_length=16, blank=True)

    class Meta:
        db_table = "payments_sandboxpaymentintent"
        ordering = ("-created",)

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class SandboxRefund(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    idempotency_key = models.CharField(max_length=255, unique=True)
    payment_intent = models.ForeignKey(
        SandboxPaymentIntent, on_delete=models.CASCADE, related_name="refunds"
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict)
    created = models.BigIntegerField()

    class Meta:
        db_table = "payments_sandboxrefund"
        ordering = ("created", "id")

    def __str__(self) -> str:
        return self.id
