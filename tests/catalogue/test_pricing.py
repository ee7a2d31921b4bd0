"""Price rules: most specific wins, rounding only ever goes up, the minimum margin holds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalogue import pricing
from catalogue.models import Bundle, PriceRule
from catalogue.pricing import ResolvedRule, minimum_price, price_from_cost, round_up, vendor_price
from catalogue.services import catalogue_reprice, catalogue_sync
from tests.factories import VendorFactory
from ttelgo.money import Money

from .factories import EditableCatalogueProvider, PriceRuleFactory, pbundle

R = PriceRule.Rounding


@pytest.mark.parametrize(
    ("amount", "rounding", "expected"),
    [
        (1234, R.UP_99, 1299),
        (1299, R.UP_99, 1299),
        (1300, R.UP_99, 1399),
        (1234, R.UP_49_99, 1249),
        (1250, R.UP_49_99, 1299),
        (1200, R.UP_49_99, 1249),
        (1201, R.UP_WHOLE, 1300),
        (1200, R.UP_WHOLE, 1200),
        (1201, R.NONE, 1201),
    ],
)
def test_rounding_goes_up_to_the_ending(amount, rounding, expected):
    assert round_up(amount, rounding) == expected


def test_zero_decimal_currencies_are_not_rounded_to_cents():
    assert round_up(1234, R.UP_99, minor_per_unit=1) == 1234


def test_markup_and_rounding():
    rule = ResolvedRule(markup_bps=5000, rounding=R.UP_99, min_margin_bps=0, source="t")
    assert price_from_cost(Money(1000, "USD"), rule) == Money(1599, "USD")


def test_minimum_margin_beats_a_tiny_markup():
    rule = ResolvedRule(markup_bps=100, rounding=R.NONE, min_margin_bps=0, source="t")
    cost = Money(10_000, "USD")
    assert price_from_cost(cost, rule).amount == minimum_price(10_000) == 11_000  # 10% floor
    stricter = ResolvedRule(markup_bps=100, rounding=R.NONE, min_margin_bps=2500, source="t")
    assert price_from_cost(cost, stricter).amount == 12_500
    assert minimum_price(100) == 100 + pricing.MIN_MARGIN_MINOR  # absolute floor on cheap ones


@given(
    cost=st.integers(min_value=0, max_value=10_000_000),
    markup=st.integers(min_value=0, max_value=30_000),
    rounding=st.sampled_from(list(R)),
    rule_margin=st.integers(min_value=0, max_value=5_000),
)
def test_retail_never_breaches_the_minimum_margin(cost, markup, rounding, rule_margin):
    rule = ResolvedRule(markup, rounding, rule_margin, "h")
    price = price_from_cost(Money(cost, "USD"), rule).amount
    assert price >= minimum_price(cost, min_margin_bps=rule_margin) > cost
    assert price >= cost + cost * markup // 10_000
    if rounding == R.UP_99:
        assert price % 100 == 99


@given(
    retail=st.integers(min_value=100, max_value=1_000_000),
    cost_share=st.integers(min_value=1, max_value=90),
    discount=st.integers(min_value=0, max_value=10_000),
)
def test_vendor_price_never_under_minimum_margin_nor_over_retail(retail, cost_share, discount):
    cost = retail * cost_share // 100
    bundle = Bundle(
        code="x", cost_amount=cost, retail_amount=retail, currency="USD", validity_days=1
    )
    price = vendor_price(vendor=VendorFactory.build(discount_bps=discount), bundle=bundle).amount
    assert price <= retail
    assert price >= min(retail, minimum_price(cost))


def test_vendor_discount_applies_when_margin_allows():
    bundle = Bundle(code="x", cost_amount=500, retail_amount=1000, currency="USD", validity_days=1)
    assert vendor_price(vendor=VendorFactory.build(discount_bps=1500), bundle=bundle) == Money(
        850, "USD"
    )
    assert vendor_price(vendor=VendorFactory.build(discount_bps=9000), bundle=bundle) == Money(
        minimum_price(500), "USD"
    )


@pytest.mark.django_db
def test_rules_resolve_most_specific_first_and_reprice_on_change(
    django_capture_on_commit_callbacks,
):
    provider = EditableCatalogueProvider(
        [
            pbundle("gb", isos=("GB",), cost=1000),
            pbundle("fr", isos=("FR",), cost=1000),
            pbundle("eu", isos=("FR", "DE"), cost=1000),
            pbundle("us", isos=("US",), region="North America", cost=1000),
        ]
    )
    catalogue_sync(provider=provider)

    def prices() -> dict[str, int]:
        return dict(Bundle.objects.values_list("code", "retail_amount"))

    default = pricing.DEFAULT_RULE
    assert set(prices().values()) == {price_from_cost(Money(1000, "USD"), default).amount}

    from catalogue.models import Country, Region

    europe = Region.objects.get(code="europe")
    PriceRuleFactory(scope="global", markup_bps=1000)
    PriceRuleFactory(scope="region", region=europe, markup_bps=3000)
    PriceRuleFactory(scope="country", country=Country.objects.get(iso="FR"), markup_bps=5000)
    PriceRuleFactory(scope="bundle", bundle=Bundle.objects.get(code="gb"), markup_bps=7000)
    with django_capture_on_commit_callbacks(execute=True):
        changed = catalogue_reprice()
    assert changed == 4
    assert prices() == {
        "gb": 1700,  # bundle rule beats the region rule
        "fr": 1500,  # country rule beats the region rule
        "eu": 1300,  # multi-country bundle: region rule (country rules do not apply)
        "us": 1100,  # no region rule: global
    }
    assert Bundle.objects.get(code="gb").price_history.filter(reason="reprice").count() == 1
    # a rule under the minimum margin is floored, not obeyed
    PriceRule.objects.filter(scope="bundle").update(markup_bps=0)
    catalogue_reprice()
    assert prices()["gb"] == minimum_price(1000)
    # sync keeps applying the rules
    assert catalogue_sync(provider=provider).updated == 0


@pytest.mark.django_db
def test_only_one_active_rule_per_target():
    from django.db import IntegrityError, transaction

    PriceRuleFactory(scope="global")
    with pytest.raises(IntegrityError), transaction.atomic():
        PriceRuleFactory(scope="global")
    with pytest.raises(IntegrityError), transaction.atomic():
        PriceRuleFactory(scope="bundle")  # a bundle rule needs its bundle


@pytest.mark.django_db
def test_price_rule_save_validates_and_reprices():
    from catalogue.services import price_rule_delete, price_rule_save
    from ttelgo.errors import DomainError

    catalogue_sync(provider=EditableCatalogueProvider([pbundle("gb", cost=1000)]))
    with pytest.raises(DomainError) as err:
        price_rule_save(rule=PriceRule(scope="bundle", markup_bps=100))  # no bundle named
    assert err.value.code == "validation_error"
    rule = PriceRule(scope="global", markup_bps=9000, rounding=R.NONE)
    assert price_rule_save(rule=rule) == 1
    assert Bundle.objects.get(code="gb").retail_amount == 1900
    assert price_rule_delete(rule=rule) == 1
    assert (
        Bundle.objects.get(code="gb").retail_amount
        == price_from_cost(Money(1000, "USD"), pricing.DEFAULT_RULE).amount
    )
