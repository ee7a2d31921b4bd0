"""Exchange rates and price conversion.

Rates come from a pluggable source (`FX_SOURCE_CLASS`): the ECB's daily reference rates
in production, a fixed table in tests and `make run`. They are stored per day (`FxRate`,
1 EUR = rate quote, as the ECB publishes them) and crossed through EUR.

A price list in another currency is converted once, when it is built: the price and the
cost are converted at the same rate, each rounded **up** to the target currency's minor
unit (`ttelgo.money.exponent`: 0, 2 or 3 decimals), and the price is never below the
converted cost plus the minimum margin (`catalogue.pricing.minimum_price`), so rounding
and the rate can never sell below the floor.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from typing import Protocol

import requests
from django.conf import settings
from django.utils.module_loading import import_string

from catalogue.models import Bundle, FxRate
from catalogue.pricing import minimum_price
from ttelgo.errors import DomainError
from ttelgo.money import Money, exponent

BASE = "EUR"


class FxSource(Protocol):
    name: str

    def rates(self, *, day: date) -> dict[str, Decimal]:
        """Quote currency -> units of it per 1 EUR, as of `day` (or the last day before
        it the source published)."""
        ...


class FixedFxSource:
    """A fixed table (`FX_FIXED_RATES`): tests and `make run`, no network."""

    name = "fixed"

    def rates(self, *, day: date) -> dict[str, Decimal]:
        return {k: Decimal(str(v)) for k, v in settings.FX_FIXED_RATES.items()}


class EcbFxSource:
    """The ECB's euro reference rates (SDMX data API, CSV), one request."""

    name = "ecb"
    URL = "https://data-api.ecb.europa.eu/service/data/EXR/D..EUR.SP00.A"

    def rates(self, *, day: date) -> dict[str, Decimal]:
        response = requests.get(
            self.URL,
            params={"endPeriod": day.isoformat(), "lastNObservations": "1", "format": "csvdata"},
            timeout=15,
        )
        response.raise_for_status()
        out: dict[str, Decimal] = {}
        for row in csv.DictReader(io.StringIO(response.text)):
            if row.get("CURRENCY") and row.get("OBS_VALUE"):
                out[row["CURRENCY"]] = Decimal(row["OBS_VALUE"])
        return out


def get_fx_source() -> FxSource:
    return import_string(settings.FX_SOURCE_CLASS)()  # type: ignore[no-any-return]


def fx_rates_refresh(*, day: date) -> int:
    """Read the day's rates from the source (HTTP, outside any transaction) and store
    them; a day already stored is left as it was. Returns how many rates were new."""
    source = get_fx_source()
    rates = source.rates(day=day)
    made = 0
    for quote, rate in sorted(rates.items()):
        if rate <= 0 or quote == BASE:
            continue
        _, created = FxRate.objects.get_or_create(
            day=day, base=BASE, quote=quote, defaults={"rate": rate, "source": source.name}
        )
        made += created
    return made


def _per_eur(currency: str, day: date) -> Decimal:
    if currency == BASE:
        return Decimal(1)
    row = FxRate.objects.filter(base=BASE, quote=currency, day__lte=day).order_by("-day").first()
    if row is None:
        raise DomainError("validation_error", f"No exchange rate for {currency} on {day}.")
    return row.rate


def fx_rate(*, base: str, quote: str, day: date) -> Decimal:
    """1 `base` in `quote` on `day` (the latest stored rate on or before it), via EUR."""
    return _per_eur(quote, day) / _per_eur(base, day)


def convert_up(amount: Money, *, currency: str, rate: Decimal) -> Money:
    """`amount` in `currency` at `rate`, rounded up to that currency's minor unit."""
    major = amount.to_decimal() * rate
    minor = major.scaleb(exponent(currency)).to_integral_value(rounding=ROUND_CEILING)
    return Money(int(minor), currency)


@dataclass(frozen=True)
class ConvertedPrice:
    price: Money
    cost: Money
    rate: Decimal


def price_convert(
    *, price: Money, cost: Money, currency: str, rate: Decimal, min_margin_bps: int = 0
) -> ConvertedPrice:
    """A price and its cost (same currency) converted at `rate`; the price is raised to
    the converted cost plus the minimum margin if conversion and rounding left it below."""
    if price.currency != cost.currency:
        raise DomainError("validation_error", "price and cost must be in one currency")
    if rate <= 0:
        raise DomainError("validation_error", "an exchange rate is positive")
    converted_cost = convert_up(cost, currency=currency, rate=rate)
    converted = convert_up(price, currency=currency, rate=rate)
    floor = minimum_price(converted_cost.amount, min_margin_bps=min_margin_bps)
    return ConvertedPrice(
        price=Money(max(converted.amount, floor), currency), cost=converted_cost, rate=rate
    )


# --- customers' currencies: price lists built once, read per sale ------------------------


def customer_currencies() -> list[str]:
    """The currencies customers may see prices and pay in (`CUSTOMER_CURRENCIES`), besides
    each bundle's own."""
    return [str(c).upper() for c in settings.CUSTOMER_CURRENCIES]


def bundle_price_lists_build(*, day: date, bundles: Iterable[Bundle] | None = None) -> int:
    """Convert every active bundle's retail price and cost into each customer currency at
    the day's stored rate (`price_convert`: rounded up, never below the converted cost plus
    the minimum margin) and keep them on the bundle (`Bundle.prices`). A currency with no
    stored rate keeps its last list. Returns how many bundles changed."""
    currencies = customer_currencies()
    if not currencies:
        return 0
    rows = list(bundles) if bundles is not None else list(Bundle.objects.filter(is_active=True))
    rates: dict[tuple[str, str], Decimal | None] = {}
    changed: list[Bundle] = []
    for bundle in rows:
        prices = dict(bundle.prices or {})
        for currency in currencies:
            if currency == bundle.currency:
                continue
            key = (bundle.currency, currency)
            if key not in rates:
                try:
                    rates[key] = fx_rate(base=bundle.currency, quote=currency, day=day)
                except DomainError:
                    rates[key] = None
            rate = rates[key]
            if rate is None:
                continue
            converted = price_convert(
                price=Money(bundle.retail_amount, bundle.currency),
                cost=Money(bundle.cost_amount, bundle.currency),
                currency=currency,
                rate=rate,
            )
            amount = converted.price.amount
            if exponent(currency) == 3:
                # Card gateways charge three-decimal currencies in tens of their minor
                # unit (Stripe: the last digit 0): up to the next ten, above the floor.
                amount = -(-amount // 10) * 10
            prices[currency] = {
                "amount": amount,
                "cost": converted.cost.amount,
                "rate": str(rate),
                "day": day.isoformat(),
            }
        if prices != bundle.prices:
            bundle.prices = prices
            changed.append(bundle)
    Bundle.objects.bulk_update(changed, ["prices"], batch_size=500)
    return len(changed)


@dataclass(frozen=True)
class BundlePrice:
    price: Money
    cost: Money


def bundle_price_in(*, bundle: Bundle, currency: str = "") -> BundlePrice:
    """A bundle's retail price and cost in `currency` as its price list holds them (no
    conversion here: the list was built once). "" or the bundle's own currency: its
    retail price. A currency customers may not choose, or one the list has no price in
    yet, is a validation_error on `currency`."""
    currency = (currency or "").upper()
    if not currency or currency == bundle.currency:
        return BundlePrice(
            Money(bundle.retail_amount, bundle.currency),
            Money(bundle.cost_amount, bundle.currency),
        )
    if currency not in customer_currencies():
        allowed = ", ".join([bundle.currency, *customer_currencies()])
        raise DomainError(
            "validation_error",
            f"Prices are shown in {allowed}.",
            details={"currency": [f"One of {allowed}."]},
        )
    entry = (bundle.prices or {}).get(currency)
    if not entry:
        raise DomainError(
            "validation_error",
            f"This bundle has no price in {currency} yet.",
            details={"currency": [f"No price in {currency} yet; try later."]},
        )
    return BundlePrice(Money(int(entry["amount"]), currency), Money(int(entry["cost"]), currency))
