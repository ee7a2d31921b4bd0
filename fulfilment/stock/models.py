"""Ready stock: eSIMs bought ahead for the bundles that sell, so an order of a stocked
bundle is delivered from stock in its own transaction instead of waiting for the
provider (fulfilment/stock/services.py).

A stock eSIM is a `StockEsim`, not an `Esim` in a `stock` status. An `Esim` is what an
order delivered: its order is never empty, every read of one goes through its order's
buyer (the API, the pages, the admin, BOLA), and every job that walks eSIMs (usage,
expiry notices, auto top-ups, refunds, revocation) takes "an eSIM" to mean "someone's
eSIM". A stock row with no order would have to be excluded from each of them, and the
eSIM state table would gain a status with moves no one else may make. Kept apart, the
`Esim` table and its invariants stay as they are: a sale from stock marks the stock row
`sold` and creates the order's `Esim` from it (same ICCID and install data), in the
order's transaction; the stock row keeps the `Esim` it became (a sold row always names
one, an available one never: a check constraint).

`StockSetting` holds the operators' levels for one bundle in one mode (live or test:
test-mode orders sell test stock bought from the sandbox provider): a floor under which
it is refilled, the target a refill buys up to (both empty: computed from recent sales,
fulfilment/stock/levels.py), and a cap on the money stock of that bundle may tie up.

`StockBatch` is one refill order at the provider (fulfilment/stock/refill.py): its
reference is ours and deterministic, recorded before the provider is called, so a batch
whose call timed out is looked up at the provider before it is ordered again."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.signals import post_delete, post_save

from ttelgo.money import Money


class StockSetting(models.Model):
    """Stock levels of one bundle in one mode, set by operators (console: Stock)."""

    bundle = models.ForeignKey("catalogue.Bundle", on_delete=models.PROTECT, related_name="+")
    livemode = models.BooleanField(default=True, db_default=True)
    enabled = models.BooleanField(
        default=True, help_text="sell from stock and refill it; off: stock is kept, not sold"
    )
    floor = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="refill when fewer eSIMs than this are left (empty: computed from sales)",
    )
    target = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="a refill buys up to this many eSIMs (empty: computed from sales)",
    )
    capital_cap = models.BigIntegerField(
        help_text="minor units of the bundle's currency: the most its stock may cost in all"
    )
    # When operators were told this bundle ran out (cleared once it is stocked again).
    out_alerted_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[StockSetting]] = models.Manager()

    class Meta:
        ordering = ("bundle_id", "-livemode")
        constraints = [
            models.UniqueConstraint(fields=["bundle", "livemode"], name="stock_setting_once"),
            models.CheckConstraint(
                condition=Q(target__gte=F("floor")), name="stock_setting_target_gte_floor"
            ),
            models.CheckConstraint(condition=Q(target__gt=0), name="stock_setting_target_gt_0"),
            models.CheckConstraint(
                condition=Q(floor__isnull=True, target__isnull=True)
                | Q(floor__isnull=False, target__isnull=False),
                name="stock_setting_levels_fixed_together",
            ),
            models.CheckConstraint(
                condition=Q(capital_cap__gte=0), name="stock_setting_capital_cap_gte_0"
            ),
        ]

    def __str__(self) -> str:
        mode = "live" if self.livemode else "test"
        return f"Stock of {self.bundle_id} ({mode})"

    def clean(self) -> None:
        """What the database holds (target ≥ floor, target > 0), said per field, and what
        it cannot: the target bought at the bundle's cost today fits under the cap."""
        errors: dict[str, str] = {}
        if (self.floor is None) != (self.target is None):
            field = "target" if self.target is None else "floor"
            errors[field] = "Fix both the floor and the target, or leave both empty (computed)."
        if self.target is not None and self.target <= 0:
            errors["target"] = "The target must be at least one eSIM."
        elif self.target is not None and self.floor is not None and self.target < self.floor:
            errors["target"] = f"The target ({self.target}) is below the floor ({self.floor})."
        if self.capital_cap is not None and self.capital_cap < 0:
            errors["capital_cap"] = "The capital cap cannot be negative."
        elif (
            "target" not in errors
            and self.target is not None
            and self.capital_cap is not None
            and self.bundle_id is not None
        ):
            cost = Money(self.bundle.cost_amount, self.bundle.currency)
            tied = cost * self.target
            if tied.amount > self.capital_cap:
                errors["capital_cap"] = (
                    f"{self.target} eSIMs at {cost} cost {tied}, above the cap of "
                    f"{Money(self.capital_cap, self.bundle.currency)}."
                )
        if errors:
            raise ValidationError(errors)


# The sale asks on every vendor order whether its bundle is stocked: the enabled
# (bundle, mode) pairs are kept in the cache (`stock_enabled`), and any change to a
# setting drops that copy, now and again when its transaction commits (a reader between
# the two cannot keep the old answer).
STOCKED_CACHE_KEY = "fulfilment:stock:enabled:v1"


def stock_settings_changed(**kwargs: object) -> None:
    from django.core.cache import cache
    from django.db import transaction

    cache.delete(STOCKED_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(STOCKED_CACHE_KEY))


post_save.connect(stock_settings_changed, sender=StockSetting, dispatch_uid="stock-setting-s")
post_delete.connect(stock_settings_changed, sender=StockSetting, dispatch_uid="stock-setting-d")


class StockEsim(models.Model):
    """One eSIM bought ahead for `bundle_code` and held for no one (`available`) until an
    order takes it (`sold`, `esim` set) or it is taken back at the provider before its
    refund window closes (`revoked`). Sold oldest first (`purchased_at`)."""

    class Status(models.TextChoices):
        AVAILABLE = "available"
        SOLD = "sold"
        # Being given back to the provider (ageing, or an operator's release): no sale
        # takes it; the ageing job finishes it (revoked, or written off).
        REVOKING = "revoking"
        REVOKED = "revoked"
        WRITTEN_OFF = "written_off"

    iccid = models.CharField(max_length=22, unique=True)
    bundle_code = models.CharField(max_length=100)
    livemode = models.BooleanField(default=True, db_default=True)
    smdp_address = models.CharField(max_length=255)
    matching_id = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.AVAILABLE)
    # What it cost (the inventory it stands for) and the provider order that bought it.
    cost_amount = models.BigIntegerField(help_text="minor units")
    currency = models.CharField(max_length=3)
    provider_reference = models.CharField(max_length=100, blank=True)
    # The provider that issued it (fulfilment/routing.py names): its top-ups, usage and
    # refund go there once sold.
    provider = models.CharField(max_length=20, blank=True, default="", db_default="")
    batch = models.ForeignKey(
        "fulfilment.StockBatch",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="esims",
    )
    purchased_at = models.DateTimeField()
    # The order's eSIM it became when sold.
    esim = models.OneToOneField(
        "fulfilment.Esim",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stock_origin",
    )
    sold_at = models.DateTimeField(null=True, blank=True)
    # When the provider was told the order it was sold to (`fulfilment.stock.tagging`).
    tagged_at = models.DateTimeField(null=True, blank=True)
    # Given back or written off: when, and why (operators read it in the console).
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=500, blank=True)
    # Given back: when its refund was seen at our provider balance (the receivable settled,
    # `fulfilment.stock.refunds`); empty while it is owed.
    refund_received_at = models.DateTimeField(null=True, blank=True)
    # The ageing run giving it back to the provider now (a dead run's lease lapses).
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[StockEsim]] = models.Manager()

    class Meta:
        ordering = ("purchased_at", "id")
        constraints = [
            models.CheckConstraint(
                condition=Q(status="sold", esim__isnull=False, sold_at__isnull=False)
                | (~Q(status="sold") & Q(esim__isnull=True)),
                name="stock_esim_sold_names_its_esim",
            ),
            models.CheckConstraint(condition=Q(cost_amount__gte=0), name="stock_esim_cost_gte_0"),
        ]
        indexes = [
            # The sale's pick: the oldest available eSIMs of one bundle in one mode.
            models.Index(
                fields=["bundle_code", "livemode", "purchased_at", "id"],
                condition=Q(status="available"),
                name="stock_esim_available",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.iccid} ({self.bundle_code}, {self.status})"

    @property
    def cost(self) -> Money:
        return Money(self.cost_amount, self.currency)


class StockBatch(models.Model):
    """One refill order at the provider: `quantity` eSIMs of a bundle for stock.

    `reference` (ours, `ttelgo-stock-<id>`) is recorded before the provider is called, and
    `sent_at` when the call starts, so a batch whose call timed out or whose run died is
    looked up at the provider (`find_order`) before it is ordered again: one batch never
    buys twice. `lease_until`: the run working on it (a dead run's lease lapses)."""

    class Status(models.TextChoices):
        PLANNED = "planned"  # to buy (sent_at empty) or to look up (sent_at set)
        COMPLETED = "completed"  # its eSIMs are in stock, its cost in inventory
        FAILED = "failed"  # the provider refused it: nothing bought

    bundle_code = models.CharField(max_length=100)
    livemode = models.BooleanField(default=True, db_default=True)
    # Where it is bought (the bundle's first route when planned) and under which code.
    provider = models.CharField(max_length=20, blank=True, default="", db_default="")
    provider_code = models.CharField(max_length=100, blank=True, default="", db_default="")
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    reference = models.CharField(max_length=100, unique=True, null=True, blank=True)
    provider_reference = models.CharField(max_length=100, unique=True, null=True, blank=True)
    # What we expect it to cost (the bundle's cost when planned): counts against the caps
    # until it completes.
    expected_cost_amount = models.BigIntegerField(help_text="minor units")
    cost_amount = models.BigIntegerField(null=True, blank=True, help_text="minor units")
    currency = models.CharField(max_length=3)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    requested_by = models.CharField(max_length=100, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[models.Manager[StockBatch]] = models.Manager()

    class Meta:
        ordering = ("id",)
        verbose_name_plural = "stock batches"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="stock_batch_quantity_gt_0"),
        ]
        indexes = [
            models.Index(
                fields=["bundle_code", "livemode"],
                condition=Q(status="planned"),
                name="stock_batch_planned",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference or 'stock batch'} ({self.quantity} × {self.bundle_code})"
