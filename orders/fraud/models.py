"""Fraud rules operators configure in the admin (see `orders/fraud/rules.py` for the engine)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.signals import post_delete, post_save

from orders.models import Order

VELOCITY_KINDS = (
    "customer_velocity",
    "email_domain_velocity",
    "ip_velocity",
    "card_velocity",
    "vendor_velocity",
)


class FraudRule(models.Model):
    """One rule: when its condition holds for a paid order, the order gains `score` points.
    `limit` is the most the rule tolerates; the rule fires above it."""

    class Kind(models.TextChoices):
        CUSTOMER_VELOCITY = "customer_velocity", "Orders per customer"
        EMAIL_DOMAIN_VELOCITY = "email_domain_velocity", "Orders per email domain"
        IP_VELOCITY = "ip_velocity", "Orders per IP address"
        CARD_VELOCITY = "card_velocity", "Orders per card fingerprint"
        VENDOR_VELOCITY = "vendor_velocity", "Orders per vendor"
        FIRST_ORDER_AMOUNT = "first_order_amount", "First order above an amount"
        COUNTRY_RISK = "country_risk", "Country on the risk list"
        QUANTITY = "quantity", "eSIMs in one order"
        DISPUTES = "disputes", "Disputes on record"

    class Window(models.TextChoices):
        HOUR = "hour"
        DAY = "day"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    window = models.CharField(
        max_length=8, choices=Window.choices, blank=True, help_text="velocity rules only"
    )
    limit = models.BigIntegerField(
        default=0,
        help_text="velocity: most orders in the window; first order: amount in minor units; "
        "quantity: most eSIMs in one order; disputes: most disputes on record",
    )
    currency = models.CharField(max_length=3, blank=True, help_text="first-order rule only")
    countries = models.CharField(
        max_length=1000,
        blank=True,
        help_text="country-risk rule: ISO codes separated by commas (card country for "
        "customers, registered country for vendors)",
    )
    score = models.PositiveIntegerField(default=100)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("kind", "id")
        constraints = [
            models.CheckConstraint(condition=Q(limit__gte=0), name="fraud_rule_limit_gte_0"),
            models.CheckConstraint(
                condition=~Q(kind__in=VELOCITY_KINDS) | Q(window__in=["hour", "day"]),
                name="fraud_rule_velocity_has_window",
            ),
            models.CheckConstraint(
                condition=~Q(kind="first_order_amount") | ~Q(currency=""),
                name="fraud_rule_first_order_has_currency",
            ),
            models.CheckConstraint(
                condition=~Q(kind="country_risk") | ~Q(countries=""),
                name="fraud_rule_country_has_list",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind in VELOCITY_KINDS and self.window not in self.Window.values:
            errors["window"] = "Velocity rules need a window (hour or day)."
        if self.kind == self.Kind.FIRST_ORDER_AMOUNT and not self.currency:
            errors["currency"] = "The first-order rule needs the amount's currency."
        if self.kind == self.Kind.COUNTRY_RISK and not self.country_codes:
            errors["countries"] = "List at least one country code."
        if errors:
            raise ValidationError(errors)
        self.currency = self.currency.upper()
        self.countries = ",".join(sorted(self.country_codes))

    @property
    def country_codes(self) -> set[str]:
        return {c.strip().upper() for c in self.countries.replace(" ", ",").split(",") if c.strip()}


class FraudSettings(models.Model):
    """The one row of engine-wide settings (pk is always 1)."""

    review_threshold = models.PositiveIntegerField(
        default=100, help_text="orders scoring this much or more are held for review"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "fraud settings"
        constraints = [models.CheckConstraint(condition=Q(id=1), name="fraud_settings_single_row")]

    def __str__(self) -> str:
        return f"hold at score {self.review_threshold}"

    @classmethod
    def current(cls) -> FraudSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class OrderReview(Order):
    """The fraud review queue as its own admin entry (orders held in `in_review`)."""

    class Meta:
        proxy = True
        verbose_name = "order in review"
        verbose_name_plural = "review queue"


# The engine keeps the enabled rules in the cache (orders are scored on every payment and
# every vendor order); any change to a rule or the threshold drops that copy.
FRAUD_RULES_CACHE_KEY = "orders:fraud:rules:v1"


def fraud_rules_changed(**kwargs: object) -> None:
    from django.core.cache import cache

    cache.delete(FRAUD_RULES_CACHE_KEY)


for _model in (FraudRule, FraudSettings):
    post_save.connect(fraud_rules_changed, sender=_model, dispatch_uid=f"fraud-{_model.__name__}-s")
    post_delete.connect(
        fraud_rules_changed, sender=_model, dispatch_uid=f"fraud-{_model.__name__}-d"
    )
