"""Currencies: rates stored per day from a pluggable source, price lists converted with the
margin floor kept, and FX postings that balance per currency (Hypothesis properties)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
import responses
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue.fx import (
    EcbFxSource,
    convert_up,
    fx_rate,
    fx_rates_refresh,
    price_convert,
)
from catalogue.models import FxRate, PriceRule
from catalogue.pricing import ResolvedRule, minimum_price, price_from_cost
from ledger.models import Entry, Purpose
from ledger.services import fx_conversion_record
from ttelgo.money import Money, exponent

CURRENCIES = ["USD", "EUR", "GBP", "JPY", "KWD", "CHF", "SEK"]
rates = st.decimals(
    min_value=Decimal("0.0001"), max_value=Decimal("100000"), places=6, allow_nan=False
)
rules = st.builds(
    ResolvedRule,
    markup_bps=st.integers(0, 20_000),
    rounding=st.sampled_from([c for c, _ in PriceRule.Rounding.choices]),
    min_margin_bps=st.integers(0, 5_000),
    source=st.just("property"),
)


@given(
    cost=st.integers(0, 10_000_000),
    source=st.sampled_from(CURRENCIES),
    target=st.sampled_from(CURRENCIES),
    rate=rates,
    rule=rules,
)
@settings(max_examples=400, deadline=None)
def test_no_converted_price_falls_below_cost_plus_the_minimum_margin(
    cost, source, target, rate, rule
):
    price = price_from_cost(Money(cost, source), rule)
    converted = price_convert(
        price=price,
        cost=Money(cost, source),
        currency=target,
        rate=rate,
        min_margin_bps=rule.min_margin_bps,
    )
    # The cost is never understated by the rounding...
    exact_cost = Money(cost, source).to_decimal() * rate
    assert converted.cost.to_decimal() >= exact_cost
    # ...and the price never falls below it plus the minimum margin, in the target's units.
    assert converted.price.amount >= minimum_price(
        converted.cost.amount, min_margin_bps=rule.min_margin_bps
    )
    assert converted.price.currency == target
    # Rounded to what the currency has: whole yen, fils in thousandths.
    assert converted.price.to_api()["amount"].count(".") == (1 if exponent(target) else 0)


@pytest.mark.parametrize(
    ("amount", "currency", "rate", "expected"),
    [
        (Money(1000, "EUR"), "JPY", Decimal("162.004"), Money(1621, "JPY")),  # up to whole yen
        (Money(1000, "EUR"), "KWD", Decimal("0.33201"), Money(3321, "KWD")),  # 3 decimals
        (Money(999, "USD"), "EUR", Decimal("0.9259259"), Money(925, "EUR")),
    ],
)
def test_conversion_rounds_up_to_the_currencys_minor_unit(amount, currency, rate, expected):
    assert convert_up(amount, currency=currency, rate=rate) == expected


@pytest.mark.django_db
def test_rates_are_stored_per_day_and_crossed_through_eur(settings):
    settings.FX_SOURCE_CLASS = "catalogue.fx.FixedFxSource"
    settings.FX_FIXED_RATES = {"USD": "1.0800", "GBP": "0.8500"}
    assert fx_rates_refresh(day=date(2026, 12, 1)) == 2
    assert fx_rates_refresh(day=date(2026, 12, 1)) == 0  # a day is stored once
    assert FxRate.objects.filter(day=date(2026, 12, 1)).count() == 2
    # A later day with no rates yet uses the latest before it.
    assert fx_rate(base="EUR", quote="USD", day=date(2026, 12, 7)) == Decimal("1.08")
    assert fx_rate(base="GBP", quote="USD", day=date(2026, 12, 7)) == Decimal("1.08") / Decimal(
        "0.85"
    )


@responses.activate
def test_the_ecb_source_reads_its_csv():
    responses.get(
        EcbFxSource.URL,
        body=(
            "KEY,FREQ,CURRENCY,CURRENCY_DENOM,EXR_TYPE,EXR_SUFFIX,TIME_PERIOD,OBS_VALUE\n"
            "EXR.D.USD.EUR.SP00.A,D,USD,EUR,SP00,A,2026-12-04,1.0812\n"
            "EXR.D.JPY.EUR.SP00.A,D,JPY,EUR,SP00,A,2026-12-04,162.31\n"
        ),
    )
    assert EcbFxSource().rates(day=date(2026, 12, 4)) == {
        "USD": Decimal("1.0812"),
        "JPY": Decimal("162.31"),
    }


@pytest.mark.django_db
@given(
    pairs=st.lists(
        st.tuples(
            st.sampled_from(CURRENCIES),
            st.sampled_from(CURRENCIES),
            st.integers(1, 10_000_000),
            rates,
        ),
        min_size=1,
        max_size=5,
    )
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_fx_posting_balances_per_currency(pairs):
    for i, (source, target, amount, rate) in enumerate(pairs):
        if source == target:
            continue
        given_ = Money(amount, source)
        got = convert_up(given_, currency=target, rate=rate)
        if got.amount <= 0:
            continue
        txn = fx_conversion_record(
            purpose=Purpose.STRIPE_CLEARING,
            amount_from=given_,
            amount_to=got,
            reference=f"fx:{uuid.uuid4()}:{i}",
        )
        per_currency = (
            Entry.objects.filter(transaction=txn)
            .values("account__currency")
            .annotate(total=Sum("amount"))
        )
        assert {r["account__currency"]: r["total"] for r in per_currency} == {
            source: 0,
            target: 0,
        }
