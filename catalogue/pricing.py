"""Retail and vendor prices from wholesale cost.

Retail = cost + markup of the most specific active price rule (bundle > country > region >
global; a country rule applies to single-country bundles), rounded *up* by the rule's
rounding, and never below cost + the minimum margin. Vendor price = retail minus the
vendor's discount, with the same floor. Everything in integer minor units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from ttelgo.money import Money, exponent

from .models import Bundle, PriceRule

# Platform floors; a rule may only raise them. Overridable in settings for an operator.
DEFAULT_MARKUP_BPS: int = getattr(settings, "CATALOGUE_DEFAULT_MARKUP_BPS", 4000)
MIN_MARGIN_BPS: int = getattr(settings, "CATALOGUE_MIN_MARGIN_BPS", 1000)
MIN_MARGIN_MINOR: int = getattr(settings, "CATALOGUE_MIN_MARGIN_MINOR", 50)


@dataclass(frozen=True, slots=True)
class ResolvedRule:
    markup_bps: int
    rounding: str
    min_margin_bps: int
    source: str  # which rule applied, for the admin: "bundle:12", "global", "default"


DEFAULT_RULE = ResolvedRule(DEFAULT_MARKUP_BPS, PriceRule.Rounding.UP_99, 0, "default")


class RuleBook:
    """All active rules loaded once, so repricing the whole catalogue is one query."""

    def __init__(self, rules: list[PriceRule] | None = None) -> None:
        if rules is None:
            rules = list(PriceRule.objects.filter(active=True))
        self.by_bundle = {r.bundle_id: r for r in rules if r.scope == PriceRule.Scope.BUNDLE}
        self.by_country = {r.country_id: r for r in rules if r.scope == PriceRule.Scope.COUNTRY}
        self.by_region = {r.region_id: r for r in rules if r.scope == PriceRule.Scope.REGION}
        self.global_rule = next((r for r in rules if r.scope == PriceRule.Scope.GLOBAL), None)

    def resolve(
        self, *, bundle_id: int | None, country_ids: list[int], region_id: int | None
    ) -> ResolvedRule:
        rule = None
        if bundle_id is not None:
            rule = self.by_bundle.get(bundle_id)
        if rule is None and len(country_ids) == 1:
            rule = self.by_country.get(country_ids[0])
        if rule is None and region_id is not None:
            rule = self.by_region.get(region_id)
        rule = rule or self.global_rule
        if rule is None:
            return DEFAULT_RULE
        return ResolvedRule(
            rule.markup_bps, rule.rounding, rule.min_margin_bps, f"{rule.scope}:{rule.pk}"
        )


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def round_up(amount: int, rounding: str, *, minor_per_unit: int = 100) -> int:
    """Round a price in minor units up to the rule's ending; never down."""
    if rounding == PriceRule.Rounding.NONE or minor_per_unit == 1:
        return amount
    if rounding == PriceRule.Rounding.UP_WHOLE:
        return _ceil_div(amount, minor_per_unit) * minor_per_unit
    endings = [99] if rounding == PriceRule.Rounding.UP_99 else [49, 99]
    base = (amount // minor_per_unit) * minor_per_unit
    for step in (0, minor_per_unit):
        for ending in endings:
            candidate = base + step + ending * minor_per_unit // 100
            if candidate >= amount:
                return candidate
    return amount  # unreachable: base + unit + .99 is always above amount


def minimum_price(cost: int, *, min_margin_bps: int = 0) -> int:
    """The lowest price we ever sell at: cost plus the larger of the platform floors (or a
    rule's stricter percentage)."""
    bps = max(MIN_MARGIN_BPS, min_margin_bps)
    return cost + max(MIN_MARGIN_MINOR, _ceil_div(cost * bps, 10_000))


def price_from_cost(cost: Money, rule: ResolvedRule) -> Money:
    unit = 10 ** exponent(cost.currency)  # minor units per major unit
    marked_up = cost.amount + _ceil_div(cost.amount * rule.markup_bps, 10_000)
    floor = minimum_price(cost.amount, min_margin_bps=rule.min_margin_bps)
    price = round_up(max(marked_up, floor), rule.rounding, minor_per_unit=unit)
    return Money(price, cost.currency)


def bundle_retail_amount(
    *, bundle: Bundle, cost: Money, book: RuleBook, country_ids: list[int]
) -> int:
    rule = book.resolve(bundle_id=bundle.pk, country_ids=country_ids, region_id=bundle.region_id)
    return price_from_cost(cost, rule).amount


def retail_price(bundle: Bundle) -> Money:
    """The stored retail price (computed at sync / reprice time)."""
    return Money(bundle.retail_amount, bundle.currency)


def _marked_up(price: Money, markup_bps: int) -> Money:
    """A parent's price plus its markup for a sub-vendor, rounded up: never below it."""
    return Money(
        price.amount + _ceil_div(price.amount * max(markup_bps, 0), 10_000), price.currency
    )


def vendor_price_chain(price_of_top: Callable[[object], Money], vendor: object) -> list[Money]:
    """The unit price at each level from the top vendor (the one the platform signed, at
    `price_of_top`) down to `vendor`: each sub-vendor pays its parent's price plus the
    parent's markup (`markup_bps` on the sub-vendor), so no level sells below its cost."""
    chain = [vendor]
    node = getattr(vendor, "parent", None)
    while node is not None and len(chain) < 32:
        chain.append(node)
        node = getattr(node, "parent", None)
    chain.reverse()
    prices = [price_of_top(chain[0])]
    for sub in chain[1:]:
        prices.append(_marked_up(prices[-1], int(getattr(sub, "markup_bps", 0) or 0)))
    return prices


def pricing_key(vendor: object) -> str:
    """What a vendor's prices depend on besides the catalogue: the top vendor's discount
    and each sub-vendor level's markup (a cache scope)."""
    parts: list[str] = []
    node: object | None = vendor
    while node is not None and len(parts) < 32:
        parts.append(str(int(getattr(node, "markup_bps", 0) or 0)))
        top = node
        node = getattr(node, "parent", None)
    return f"{int(getattr(top, 'discount_bps', 0) or 0)}" + (
        "/" + "/".join(reversed(parts[:-1])) if len(parts) > 1 else ""
    )


def _top_vendor_price(*, vendor: object, bundle: Bundle) -> Money:
    discount_bps = int(getattr(vendor, "discount_bps", 0) or 0)
    retail = retail_price(bundle)
    discounted = retail.scale(10_000 - min(discount_bps, 10_000), 10_000)
    floor = minimum_price(bundle.cost_amount)
    return Money(min(retail.amount, max(discounted.amount, floor)), bundle.currency)


def vendor_price_levels(*, vendor: object, bundle: Bundle) -> list[Money]:
    """The bundle's unit price at each level from the top vendor down to `vendor` (one
    price for a vendor with no parent): what each level's margin is taken from."""
    return vendor_price_chain(lambda top: _top_vendor_price(vendor=top, bundle=bundle), vendor)


def vendor_price(*, vendor: object, bundle: Bundle) -> Money:
    """Retail minus the vendor's discount (`vendor.discount_bps`), never under the minimum
    margin over cost; a sub-vendor's is its parent's price plus the parent's markup
    (`vendor_price_chain`)."""
    return vendor_price_chain(lambda top: _top_vendor_price(vendor=top, bundle=bundle), vendor)[-1]


def _top_vendor_price_from_cost(*, vendor: object, cost: Money, book: RuleBook | None) -> Money:
    rule = (book or RuleBook()).resolve(bundle_id=None, country_ids=[], region_id=None)
    retail = price_from_cost(cost, rule)
    discount_bps = int(getattr(vendor, "discount_bps", 0) or 0)
    discounted = retail.scale(10_000 - min(discount_bps, 10_000), 10_000)
    floor = minimum_price(cost.amount, min_margin_bps=rule.min_margin_bps)
    return Money(min(retail.amount, max(discounted.amount, floor)), cost.currency)


def vendor_price_from_cost(*, vendor: object, cost: Money, book: RuleBook | None = None) -> Money:
    """A vendor's price for something we buy at `cost` that is not a catalogue bundle (an
    IoT SIM's quota top-up): the global rule's markup (or the default), the vendor's
    discount, never under the minimum margin over cost, as `vendor_price` does (and a
    sub-vendor's parent's markup on top)."""
    return vendor_price_chain(
        lambda top: _top_vendor_price_from_cost(vendor=top, cost=cost, book=book), vendor
    )[-1]
