"""Money: integer minor units + ISO-4217 code below the API; decimal strings at the edge.

`Money.to_api()` / `Money.from_decimal()` convert between `{"amount": "4.50",
"currency": "USD"}` and `Money(450, "USD")`; the API's fields are in `ttelgo/fields.py`
(this module knows nothing of DRF). No float ever touches money.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO-4217 exponents that are not 2. Everything else we sell in has cents.
_EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3}
SUPPORTED_CURRENCIES = frozenset(
    {"USD", "EUR", "GBP", "AUD", "CAD", "CHF", "JPY", "SGD", "AED", "NZD", "SEK", "NOK", "DKK"}
)


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        if len(self.currency) != 3 or not self.currency.isupper():
            raise ValueError(f"bad currency code {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value: Decimal | str | int, currency: str) -> Money:
        """Exact conversion; a value with more decimals than the currency has is refused."""
        currency = currency.upper()
        try:
            dec = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"not a decimal amount: {value!r}") from None
        if not dec.is_finite():
            raise ValueError("amount must be finite")
        scaled = dec.scaleb(exponent(currency))
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{currency} amounts have at most {exponent(currency)} decimals")
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-exponent(self.currency))

    def __str__(self) -> str:
        """For people (console, emails, messages): thousands separated, "1,234.50 USD".
        The API's form is `to_api()`."""
        return f"{self.to_decimal():,.{exponent(self.currency)}f} {self.currency}"

    def to_api(self) -> dict[str, str]:
        return {
            "amount": f"{self.to_decimal():.{exponent(self.currency)}f}",
            "currency": self.currency,
        }

    def _check(self, other: Money) -> None:
        if self.currency != other.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if not isinstance(factor, int):
            raise TypeError("Money can only be multiplied by an int")
        return Money(self.amount * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def scale(self, numerator: int, denominator: int) -> Money:
        """Multiply by a ratio with half-up rounding to the minor unit (for discounts)."""
        value = (Decimal(self.amount) * numerator / denominator).quantize(
            Decimal(1), rounding=ROUND_HALF_UP
        )
        return Money(int(value), self.currency)


def money_api(amount: int, currency: str) -> dict[str, str]:
    """Shortcut for serializers holding (minor units, currency) columns."""
    return Money(amount, currency).to_api()
