"""Catalogue: regions, countries, bundles, price rules, price history.

This file holds what is sold and how it is priced. Money columns are integer minor units
next to their currency. The tables keep the names they had when the app was `esims`.
"""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords


class Region(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=80)

    class Meta:
        db_table = "esims_region"
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class Country(models.Model):
    iso = models.CharField(max_length=2, unique=True, help_text="ISO 3166-1 alpha-2")
    name = models.CharField(max_length=100)
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.SET_NULL, related_name="countries"
    )

    class Meta:
        db_table = "esims_country"
        ordering = ("name",)
        verbose_name_plural = "countries"

    def __str__(self) -> str:
        return f"{self.name} ({self.iso})"


class Bundle(models.Model):
    """A bundle as the provider sells it, plus operator overrides (never touched by sync)
    and the retail price computed from the price rules (stored so lists need no maths)."""

    code = models.CharField(max_length=100, unique=True, help_text="provider's bundle name")
    provider = models.CharField(max_length=20, default="sandbox")
    # provider data (overwritten by every sync)
    provider_description = models.CharField(max_length=300, blank=True)
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.SET_NULL, related_name="bundles"
    )
    countries = models.ManyToManyField(Country, related_name="bundles", blank=True)
    data_mb = models.PositiveIntegerField(default=0)
    unlimited = models.BooleanField(default=False)
    validity_days = models.PositiveIntegerField()
    cost_amount = models.BigIntegerField(help_text="wholesale, minor units")
    currency = models.CharField(max_length=3)
    # operator overrides (kept across syncs)
    display_name = models.CharField(max_length=120, blank=True)
    description = models.TextField(blank=True)
    hidden = models.BooleanField(default=False)
    featured = models.BooleanField(default=False)
    # computed
    retail_amount = models.BigIntegerField(help_text="minor units; recomputed on sync/reprice")
    # The price list in each currency customers may choose (CUSTOMER_CURRENCIES), built
    # when the catalogue is synced or repriced: {"EUR": {"amount", "cost", "rate", "day"}}
    # (catalogue/fx.py, `bundle_price_lists_build`).
    prices = models.JSONField(default=dict, blank=True, db_default={})
    is_active = models.BooleanField(default=True, help_text="false once the provider drops it")
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "esims_bundle"
        ordering = ("code",)
        indexes = [
            models.Index(fields=["is_active", "hidden", "retail_amount"]),
            models.Index(fields=["is_active", "hidden", "data_mb"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(retail_amount__gt=models.F("cost_amount")),
                name="bundle_retail_above_cost",
            ),
            models.CheckConstraint(
                condition=models.Q(cost_amount__gte=0), name="bundle_cost_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def name(self) -> str:
        return self.display_name or self.provider_description or self.code

    @property
    def is_sellable(self) -> bool:
        return self.is_active and not self.hidden


class BundleOffer(models.Model):
    """Another provider's equivalent of a bundle we sell (same countries, data and
    validity): the bundle is the product, sold under its code at its one price; each offer
    is a way to deliver it (fulfilment/routing.py). The bundle's own provider and code are
    its first offer and need no row. `priority`: an operator's order of preference (lower
    first) that overrides the best margin."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="offers")
    provider = models.CharField(max_length=20)
    provider_code = models.CharField(max_length=100, help_text="the provider's package id")
    cost_amount = models.BigIntegerField(help_text="wholesale, minor units")
    currency = models.CharField(max_length=3)
    is_active = models.BooleanField(default=True, help_text="false once the provider drops it")
    priority = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="operator preference: lower first; empty = by margin"
    )
    last_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("bundle", "provider")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_code"], name="bundle_offer_provider_code_unique"
            ),
            models.UniqueConstraint(
                fields=["bundle", "provider"], name="bundle_offer_one_per_provider"
            ),
            models.CheckConstraint(
                condition=models.Q(cost_amount__gte=0), name="bundle_offer_cost_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bundle_id}: {self.provider} {self.provider_code}"


class PriceRule(models.Model):
    """Markup over cost. The most specific active rule wins: bundle > country > region >
    global. The minimum margin is a floor that no rule can go under."""

    class Scope(models.TextChoices):
        GLOBAL = "global"
        REGION = "region"
        COUNTRY = "country"
        BUNDLE = "bundle"

    class Rounding(models.TextChoices):
        NONE = "none", "none"
        UP_99 = "up_99", "up to .99"
        UP_49_99 = "up_49_99", "up to .49 or .99"
        UP_WHOLE = "up_whole", "up to a whole unit"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.CASCADE)
    country = models.ForeignKey(Country, null=True, blank=True, on_delete=models.CASCADE)
    bundle = models.ForeignKey(Bundle, null=True, blank=True, on_delete=models.CASCADE)
    markup_bps = models.PositiveIntegerField(help_text="markup over cost (5000 = +50%)")
    rounding = models.CharField(max_length=10, choices=Rounding.choices, default=Rounding.UP_99)
    min_margin_bps = models.PositiveIntegerField(
        default=0, help_text="raise the platform's minimum margin for this scope"
    )
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "esims_pricerule"
        ordering = ("scope", "id")
        constraints = [
            models.CheckConstraint(
                name="price_rule_target_matches_scope",
                condition=(
                    models.Q(
                        scope="global",
                        region__isnull=True,
                        country__isnull=True,
                        bundle__isnull=True,
                    )
                    | models.Q(
                        scope="region",
                        region__isnull=False,
                        country__isnull=True,
                        bundle__isnull=True,
                    )
                    | models.Q(
                        scope="country",
                        region__isnull=True,
                        country__isnull=False,
                        bundle__isnull=True,
                    )
                    | models.Q(
                        scope="bundle",
                        region__isnull=True,
                        country__isnull=True,
                        bundle__isnull=False,
                    )
                ),
            ),
            # one active rule per target, so "most specific wins" is never ambiguous
            models.UniqueConstraint(
                fields=["scope"],
                condition=models.Q(scope="global", active=True),
                name="price_rule_one_global",
            ),
            models.UniqueConstraint(
                fields=["region"], condition=models.Q(active=True), name="price_rule_one_per_region"
            ),
            models.UniqueConstraint(
                fields=["country"],
                condition=models.Q(active=True),
                name="price_rule_one_per_country",
            ),
            models.UniqueConstraint(
                fields=["bundle"], condition=models.Q(active=True), name="price_rule_one_per_bundle"
            ),
        ]

    def __str__(self) -> str:
        target = self.bundle or self.country or self.region or "all bundles"
        return f"{self.scope}: {target} +{self.markup_bps / 100:g}%"


class BundlePriceHistory(models.Model):
    """Append-only: one row whenever a bundle's cost or retail price changes."""

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="price_history")
    cost_amount = models.BigIntegerField()
    retail_amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=20)  # sync | reprice
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "esims_bundlepricehistory"
        ordering = ("-created_at", "-id")
        verbose_name_plural = "bundle price history"

    def __str__(self) -> str:
        return f"{self.bundle_id} {self.retail_amount} {self.currency} ({self.reason})"


class FxRate(models.Model):
    """A reference exchange rate of one day: 1 `base` = `rate` `quote` (catalogue/fx.py).
    Kept per day, so a price list built on a date can always be rebuilt the same way."""

    day = models.DateField()
    base = models.CharField(max_length=3)
    quote = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=24, decimal_places=10)
    source = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-day", "base", "quote")
        constraints = [
            models.UniqueConstraint(fields=["day", "base", "quote"], name="fx_rate_one_per_day"),
            models.CheckConstraint(condition=models.Q(rate__gt=0), name="fx_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.day} 1 {self.base} = {self.rate} {self.quote}"


class ProviderRule(models.Model):
    """An operator's routing rule for one provider (fulfilment/routing.py): `priority`
    ranks providers before margin (lower first; empty = by margin), `drained` takes no new
    orders (finds, top-ups and usage of the eSIMs it issued still go to it). Edited in the
    admin; every change is kept (`history`) and audited. A provider with no row follows
    the settings (`ESIM_PROVIDERS_DRAINED`)."""

    class Provider(models.TextChoices):
        ESIMGO = "esimgo", "eSIM Go"
        AIRALO = "airalo", "Airalo"

    provider = models.CharField(max_length=20, choices=Provider.choices, unique=True)
    priority = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="preference over other providers: lower first"
    )
    drained = models.BooleanField(default=False, help_text="no new orders go to this provider")
    note = models.CharField(max_length=200, blank=True, help_text="why (kept in the history)")
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ("provider",)

    def __str__(self) -> str:
        return self.get_provider_display()
