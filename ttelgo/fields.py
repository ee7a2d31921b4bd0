"""The API's shared fields: the one money field, `{"amount": "4.50", "currency": "USD"}`
in and out, one `Money` component in the OpenAPI schema (the domain type is
`ttelgo.money.Money`); and one-line text for what ends up in an email header."""

from __future__ import annotations

import re
from operator import attrgetter
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ttelgo.money import SUPPORTED_CURRENCIES, Money, money_api
from ttelgo.validators import validate_sendable_email, validate_single_line


class SingleLineCharField(serializers.CharField):
    """The API's one-line text (a subject, a name that becomes an email's sender): line
    breaks and control characters are a `validation_error` on the field that says which
    character and where (`ttelgo.validators`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(validate_single_line)


class SendableEmailField(serializers.EmailField):
    """An email address the platform may write to: valid, and one that an email can
    actually be built for (`ttelgo.validators.SendableEmailValidator`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(validate_sendable_email)


# The schema of every amount in the API (the `Money` component); `MoneyField` below reads
# and writes it. Its docstring is what integrators read.
class MoneySerializer(serializers.Serializer):
    """An amount of money: a decimal string in the currency's major unit (never a float,
    never minor units) and the currency's ISO 4217 code."""

    amount = serializers.RegexField(
        r"^-?\d+(\.\d{1,3})?$",
        help_text='a decimal string in the currency\'s major unit, such as "4.50"',
    )
    currency = serializers.CharField(
        min_length=3, max_length=3, help_text="ISO 4217 code, such as USD"
    )


_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,6})?")
# What one API amount may be unless a field says otherwise: 1,000,000.00 in a two-decimal
# currency, far below what the database's 64-bit minor units hold.
DEFAULT_MAX_AMOUNT = 100_000_000


@extend_schema_field(MoneySerializer)
class MoneyField(serializers.Field):
    """DRF field for `{"amount": "4.50", "currency": "USD"}` <-> Money.

    Given `amount_attr`, it is read-only and reads an integer minor-units column and its
    currency column (`currency_attr`, dotted paths allowed) of the object itself."""

    default_error_messages = {
        "invalid": 'Expected {{"amount": "<decimal string>", "currency": "<ISO code>"}}.',
        "currency": "Unsupported currency {currency}.",
        "amount": "{reason}",
        "format": 'Write the amount as a plain decimal string, such as "4.50".',
        "positive": "Amount must be greater than zero.",
        "max": "Amount must be at most {limit}.",
    }

    def __init__(
        self,
        *,
        positive: bool = False,
        max_amount: int = DEFAULT_MAX_AMOUNT,
        amount_attr: str | None = None,
        currency_attr: str = "currency",
        **kwargs: Any,
    ) -> None:
        self.positive = positive
        self.max_amount = max_amount  # minor units, either sign
        self.columns = (attrgetter(amount_attr), attrgetter(currency_attr)) if amount_attr else None
        if amount_attr:
            kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> dict[str, str]:
        if self.columns is not None:
            amount, currency = self.columns
            return money_api(int(amount(value)), currency(value))
        return value.to_api()  # type: ignore[no-any-return]

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


class LivemodeField(serializers.BooleanField):
    """`livemode` of an object of a vendor's: false when the caller's key is a test key
    (the object is in the vendor's test environment). Read from the request's vendor."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("help_text", "false for a test-mode object (a test key's)")
        super().__init__(**kwargs)

    def get_attribute(self, instance: Any) -> Any:
        vendor = getattr(self.context.get("request"), "vendor", None)
        return True if vendor is None else vendor.livemode
