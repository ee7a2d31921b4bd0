from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttelgo.fields import MoneyField
from ttelgo.money import Money


def test_round_trip_to_api():
    assert Money(450, "USD").to_api() == {"amount": "4.50", "currency": "USD"}
    assert Money(-5, "EUR").to_api() == {"amount": "-0.05", "currency": "EUR"}
    assert Money(1200, "JPY").to_api() == {"amount": "1200", "currency": "JPY"}


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_decimal_round_trip_is_exact(amount):
    money = Money(amount, "USD")
    assert Money.from_decimal(money.to_api()["amount"], "USD") == money


def test_too_many_decimals_refused():
    with pytest.raises(ValueError):
        Money.from_decimal("1.005", "USD")
    with pytest.raises(ValueError):
        Money.from_decimal("1.5", "JPY")


def test_float_is_refused():
    with pytest.raises(TypeError):
        Money(4.5, "USD")  # type: ignore[arg-type]


def test_currency_mismatch_refused():
    with pytest.raises(ValueError):
        Money(1, "USD") + Money(1, "EUR")


def test_scale_rounds_half_up():
    assert Money(999, "USD").scale(85, 100) == Money(849, "USD")  # 849.15
    assert Money(1, "USD").scale(1, 2) == Money(1, "USD")


def test_money_field_validates_shape_and_precision():
    field = MoneyField(positive=True)
    assert field.to_internal_value({"amount": "10.00", "currency": "usd"}) == Money(1000, "USD")
    from rest_framework.exceptions import ValidationError

    for bad in (
        {"amount": 10.0, "currency": "USD"},
        {"amount": "1.001", "currency": "USD"},
        {"amount": "0", "currency": "USD"},
        {"amount": "1", "currency": "XXX"},
        "10",
    ):
        with pytest.raises(ValidationError):
            field.to_internal_value(bad)
    assert Money(1, "USD").to_decimal() == Decimal("0.01")


def test_people_read_amounts_with_thousands_separated():
    from ttelgo.money import Money

    assert str(Money(123_456_789, "USD")) == "1,234,567.89 USD"
    assert str(Money(450, "USD")) == "4.50 USD"
    assert str(Money(1_234_567, "JPY")) == "1,234,567 JPY"
    assert Money(123_456_789, "USD").to_api() == {"amount": "1234567.89", "currency": "USD"}
