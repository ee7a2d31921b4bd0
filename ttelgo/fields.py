"""The API's money fields: `{"amount": "4.50", "currency": "USD"}` in and out, in one
place (the domain type is `ttelgo.money.Money`)."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ttelgo.money import SUPPORTED_CURRENCIES, Money, money_api

MONEY_SCHEMA = {
    "type": "object",
    "properties": {
        "amount": {"type": "string", "pattern": r"^-?\d+(\.\d{1,3})?$", "example": "4.50"},
        "currency": {"type": "string", "minLength": 3, "maxLength": 3, "example": "USD"},
    },
    "required": ["amount", "currency"],
}


_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,6})?")
# What one API amount may be unless a field says otherwise: 1,000,000.00 in a two-decimal
# currency, far below what the database's 64-bit minor units hold.
DEFAULT_MAX_AMOUNT = 100_000_000


@extend_schema_field(MONEY_SCHEMA)
class MoneyField(serializers.Field):
    """DRF field for `{"amount": "4.50", "currency": "USD"}` <-> Money."""

    default_error_messages = {
        "invalid": 'Expected {{"amount": "<decimal string>", "currency": "<ISO code>"}}.',
        "currency": "Unsupported currency {currency}.",
        "amount": "{reason}",
        "format": 'Write the amount as a plain decimal string, such as "4.50".',
        "positive": "Amount must be greater than zero.",
        "max": "Amount must be at most {limit}.",
    }

    def __init__(
        self, *, positive: bool = False, max_amount: int = DEFAULT_MAX_AMOUNT, **kwargs: Any
    ) -> None:
        self.positive = positive
        self.max_amount = max_amount  # minor units, either sign
        super().__init__(**kwargs)

    def to_representation(self, value: Money) -> dict[str, str]:
        return value.to_api()

    def to_internal_value(self, data: Any) -> Money:
        if not isinstance(data, dict) or set(data) != {"amount", "currency"}:
            self.fail("invalid")
        amount, currency = data["amount"], data["currency"]
        if not isinstance(amount, str) or not isinstance(currency, str):
            self.fail("invalid")
        currency = currency.upper()
        if currency not in SUPPORTED_CURRENCIES:
            self.fail("currency", currency=currency)
        if not _PLAIN_DECIMAL.fullmatch(amount):
            self.fail("format")  # no exponents ("1e10"), no spaces, no thousands separators
        try:
            money = Money.from_decimal(amount, currency)
        except ValueError as exc:
            self.fail("amount", reason=str(exc))
        if self.positive and money.amount <= 0:
            self.fail("positive")
        if abs(money.amount) > self.max_amount:
            self.fail("max", limit=Money(self.max_amount, currency))
        return money


class MinorUnitsMoneyField(MoneyField):
    """Read-only Money from an integer column and a currency column of the same object."""

    def __init__(self, amount_attr: str, currency_attr: str = "currency", **kwargs: Any) -> None:
        self.amount_attr = amount_attr
        self.currency_attr = currency_attr
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> dict[str, str]:  # type: ignore[override]
        return money_api(int(getattr(value, self.amount_attr)), getattr(value, self.currency_attr))
