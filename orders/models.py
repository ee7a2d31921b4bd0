"""Orders: what a customer or vendor bought, and every state it went through."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from ttelgo.money import Money
from ttelgo.tax import TaxLine, Treatment


class Order(models.Model):
    class Kind(models.TextChoices):
        ESIM = "esim"
        TOPUP = "topup"

    class Channel(models.TextChoices):
        B2C = "b2c"
        B2B = "b2b"

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment"
        PAID = "paid"
        IN_REVIEW = "in_review"
        PROVISIONING = "provisioning"
        COMPLETED = "completed"
        FAILED = "failed"
        REFUNDED = "refunded"
        CANCELLED = "cancelled"

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.ESIM)
    channel = models.CharField(max_length=4, choices=Channel.choices)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    vendor = models.ForeignKey(
        "vendors.Vendor", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(max_length=20, choices=Status.choices)
    # False for a vendor's test-mode order: kept out of live lists, figures and money.
    livemode = models.BooleanField(default=True, db_default=True)
    currency = models.CharField(max_length=3)
    total = models.BigIntegerField(help_text="minor units: what the buyer pays")
    cost_total = models.BigIntegerField(default=0, help_text="minor units: wholesale cost")
    # The wholesale cost's currency (the provider's): "" means the order's own. A customer
    # paying in a currency of their choice (CUSTOMER_CURRENCIES) pays in one, we buy in
    # the other; each is booked in its own (docs/MONEY.md).
    cost_currency = models.CharField(max_length=3, blank=True, default="", db_default="")
    # VAT of the sale (ttelgo/tax.py), fixed when the order is placed: the part of `total`
    # that is tax (prices are tax-inclusive), under which treatment, at whose rate, and
    # both parties' VAT numbers as the invoice and receipt show them.
    tax_amount = models.BigIntegerField(default=0, db_default=0, help_text="minor units")
    tax_rate_bp = models.PositiveIntegerField(default=0, db_default=0, help_text="basis points")
    tax_country = models.CharField(max_length=2, blank=True, default="", db_default="")
    tax_treatment = models.CharField(
        max_length=16, choices=Treatment.CHOICES, default=Treatment.NONE, db_default=Treatment.NONE
    )
    buyer_vat_number = models.CharField(max_length=20, blank=True, default="", db_default="")
    seller_vat_number = models.CharField(max_length=20, blank=True, default="", db_default="")
    customer_reference = models.CharField(max_length=255, blank=True)
    # A vendor's end customer, when the vendor wants us to email them the eSIM (under the
    # vendor's brand, in this language).
    end_customer_email = models.EmailField(blank=True, default="", db_default="")
    end_customer_language = models.CharField(max_length=8, blank=True, default="", db_default="")
    target_iccid = models.CharField(max_length=22, blank=True, help_text="top-ups only")
    provider_reference = models.CharField(max_length=100, blank=True)
    # Routing (fulfilment/routing.py): the provider the order was placed with (or last
    # sent to) and why; every provider an attempt asked to order from, each of which is
    # asked first, before any other is tried (find-before-buy).
    provider = models.CharField(max_length=20, blank=True, default="", db_default="")
    provider_route = models.CharField(max_length=200, blank=True, default="", db_default="")
    providers_sent = models.JSONField(default=list, blank=True, db_default=[])
    # Failed by the delivery guarantee while the provider was still processing it: what
    # the provider delivers later is revoked there (orders_late_deliveries_revoke).
    revoke_on_arrival = models.BooleanField(default=False, db_default=False)
    failure_reason = models.TextField(blank=True)
    review_reasons = models.JSONField(default=list, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    disputed_at = models.DateTimeField(null=True, blank=True)
    provisioning_attempts = models.PositiveIntegerField(default=0)
    # A worker holds the order while it talks to the provider; a second worker (duplicate
    # delivery, re-drive) backs off until the lease ends, so one order is never bought twice.
    provisioning_lease_until = models.DateTimeField(null=True, blank=True)
    provisioning_due_at = models.DateTimeField(
        null=True, blank=True, help_text="when the scheduled provisioning retry is due"
    )
    # Set when its provisioning task is queued, cleared when a worker claims it: the
    # re-drive does not queue it again before then (ttelgo/queues.py).
    provisioning_queued_until = models.DateTimeField(
        null=True, blank=True, help_text="its provisioning task is queued until then"
    )
    escalated_at = models.DateTimeField(
        null=True, blank=True, help_text="when operators were told the order is stuck"
    )
    provider_order_sent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="when an attempt first asked the provider to place the order (before that, "
        "no provider order can exist, so a retry need not look for one)",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(channel="b2c", customer__isnull=False, vendor__isnull=True)
                    | Q(channel="b2b", vendor__isnull=False, customer__isnull=True)
                ),
                name="order_buyer_matches_channel",
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_gte_0"),
            models.CheckConstraint(
                condition=Q(kind="esim") | ~Q(target_iccid=""), name="order_topup_has_iccid"
            ),
            # One provider order serves one of ours: an orphan two orders both found is
            # adopted by one of them only (fulfilment/provisioning.py).
            models.UniqueConstraint(
                fields=["provider_reference"],
                condition=Q(kind="esim") & ~Q(provider_reference=""),
                name="order_provider_reference_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="order_customer_recent"),
            models.Index(fields=["vendor", "-created_at"], name="order_vendor_recent"),
            models.Index(fields=["status", "updated_at"], name="order_status_age"),
            # The console's exact-first search and the vendor API's customer_reference filter.
            models.Index(fields=["customer_reference"], name="order_customer_reference"),
            models.Index(fields=["target_iccid"], name="order_target_iccid"),
            models.Index(fields=["provider_reference"], name="order_provider_reference"),
            # The console's list, newest first, filtered or not: read in index order.
            models.Index(fields=["-created_at", "-id"], name="order_recent"),
        ]

    def __str__(self) -> str:
        return f"Order {self.pk} ({self.channel}, {self.status})"

    @property
    def tax_line(self) -> TaxLine:
        return TaxLine(
            treatment=self.tax_treatment,
            country=self.tax_country,
            rate_bp=self.tax_rate_bp,
            total=Money(self.total, self.currency),
            tax=Money(self.tax_amount, self.currency),
            seller_vat_number=self.seller_vat_number,
            buyer_vat_number=self.buyer_vat_number,
        )

    # Rows the service that created this order already holds (`order_rows_known`): the
    # answer to the creating request lists them without reading them back.
    known_items: list[OrderItem] | None = None
    # The eSIMs delivered: fulfilment's rows, reached through the `esims` reverse relation
    # (orders never imports fulfilment).
    known_esims: list[Any] | None = None

    @property
    def cost(self) -> Money:
        """The wholesale cost, in its own currency."""
        return Money(self.cost_total, self.cost_currency or self.currency)

    @property
    def total_display(self) -> str:
        return str(Money(self.total, self.currency))

    @property
    def items_listed(self) -> list[OrderItem]:
        return self.known_items if self.known_items is not None else list(self.items.all())

    @property
    def esims_listed(self) -> list[Any]:
        return self.known_esims if self.known_esims is not None else list(self.esims.all())


class OrderItem(models.Model):
    """A bundle line. Code, name, price and cost are copied so the order never changes
    when the catalogue does."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    bundle_code = models.CharField(max_length=100)
    bundle_name = models.CharField(max_length=255)
    quantity = models.PositiveSmallIntegerField()
    unit_price = models.BigIntegerField()
    unit_cost = models.BigIntegerField()
    currency = models.CharField(max_length=3)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=10), name="order_item_quantity_1_10"
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="order_item_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.bundle_code}"

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


class OrderEvent(models.Model):
    """One transition of one order: from, to, who, why, when. Append-only."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=100, default="system")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '-'} -> {self.to_status}"
