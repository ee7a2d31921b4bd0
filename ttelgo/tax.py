"""VAT on a sale: every rule in this one module.

What we sell (eSIM data bundles) is an electronically supplied service. Under the EU's
rules for digital services it is taxed where the buyer is:

* a consumer (B2C) in an EU country pays that country's standard rate;
* a business (B2B) in an EU country other than ours, with a VAT number validated (VIES),
  pays no VAT: the buyer accounts for it (**reverse charge**). A VAT number that did not
  validate is no proof of a business: the sale is taxed like a consumer's;
* a buyer outside the EU pays no EU VAT (outside the scope).

Prices are **tax-inclusive**: the order's total is what the buyer pays whatever the
treatment, and the VAT is the part of it that is tax (total x rate / (1 + rate), rounded
half up to the minor unit). A buyer with no country on record is taxed at the seller's
country's rate. With no seller VAT registration configured (`PLATFORM_COUNTRY` empty),
no tax is computed at all.

VAT numbers are validated when a buyer records theirs (an HTTP call, never inside a
sale's transaction), through `get_vat_validator()`: the EU's VIES service in
production, `VAT_VALIDATOR_CLASS` elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import requests
from django.conf import settings
from django.utils.module_loading import import_string

from ttelgo.money import Money

# Standard VAT rates in basis points (1 % = 100), as of 2025-08. Rates change: keep this
# table current (the EU's "VAT rates in Europe" list).
EU_VAT_RATES: dict[str, int] = {
    "AT": 2000,
    "BE": 2100,
    "BG": 2000,
    "CY": 1900,
    "CZ": 2100,
    "DE": 1900,
    "DK": 2500,
    "EE": 2400,
    "ES": 2100,
    "FI": 2550,
    "FR": 2000,
    "GR": 2400,
    "HR": 2500,
    "HU": 2700,
    "IE": 2300,
    "IT": 2200,
    "LT": 2100,
    "LU": 1700,
    "LV": 2100,
    "MT": 1800,
    "NL": 2100,
    "PL": 2300,
    "PT": 2300,
    "RO": 2100,
    "SE": 2500,
    "SI": 2200,
    "SK": 2300,
}
# VIES prefixes that are not the ISO country code.
_VAT_PREFIX = {"GR": "EL"}


class Treatment:
    STANDARD = "standard"  # VAT at the buyer's (or seller's) country rate
    REVERSE_CHARGE = "reverse_charge"  # EU business buyer, validated VAT number
    OUTSIDE_SCOPE = "outside_scope"  # buyer outside the EU
    NONE = "none"  # no seller VAT registration configured

    CHOICES = (
        (STANDARD, "Standard rate"),
        (REVERSE_CHARGE, "Reverse charge"),
        (OUTSIDE_SCOPE, "Outside the scope of EU VAT"),
        (NONE, "No VAT"),
    )


@dataclass(frozen=True)
class Seller:
    country: str
    vat_number: str
    name: str


@dataclass(frozen=True)
class Buyer:
    country: str  # ISO 3166 alpha-2, "" when unknown
    vat_number: str = ""
    vat_number_valid: bool = False

    @property
    def is_business(self) -> bool:
        return bool(self.vat_number) and self.vat_number_valid


@dataclass(frozen=True)
class TaxLine:
    """The tax of one sale: `total` as paid, `net` + `tax` = `total`."""

    treatment: str
    country: str  # whose rate applies ("" when none)
    rate_bp: int  # basis points
    total: Money
    tax: Money
    seller_vat_number: str
    buyer_vat_number: str

    @property
    def net(self) -> Money:
        return self.total - self.tax

    @property
    def rate_display(self) -> str:
        return f"{self.rate_bp / 100:.2f}".rstrip("0").rstrip(".") + " %"

    @property
    def note(self) -> str:
        """What an invoice or receipt must say about the treatment."""
        if self.treatment == Treatment.REVERSE_CHARGE:
            return (
                "Reverse charge: VAT to be accounted for by the recipient (Art. 196 VAT Directive)."
            )
        if self.treatment == Treatment.OUTSIDE_SCOPE:
            return "Outside the scope of EU VAT."
        return ""


def seller() -> Seller:
    """The platform as seller (settings: PLATFORM_COUNTRY, PLATFORM_VAT_NUMBER, ...)."""
    return Seller(
        country=str(settings.PLATFORM_COUNTRY).upper(),
        vat_number=str(settings.PLATFORM_VAT_NUMBER),
        name=str(settings.PLATFORM_LEGAL_NAME),
    )


def is_eu(country: str) -> bool:
    return country.upper() in EU_VAT_RATES


def inclusive_tax(total: Money, rate_bp: int) -> Money:
    """The tax part of a tax-inclusive total: total x rate / (1 + rate), half up."""
    return total.scale(rate_bp, 10_000 + rate_bp)


def tax_for_sale(*, total: Money, buyer: Buyer, seller_: Seller | None = None) -> TaxLine:
    """The VAT treatment and amount of one sale of `total` (tax-inclusive) to `buyer`."""
    me = seller_ or seller()
    vat_no = buyer.vat_number if buyer.is_business else ""

    def line(treatment: str, country: str = "", rate_bp: int = 0) -> TaxLine:
        return TaxLine(
            treatment=treatment,
            country=country,
            rate_bp=rate_bp,
            total=total,
            tax=inclusive_tax(total, rate_bp) if rate_bp else Money.zero(total.currency),
            seller_vat_number=me.vat_number,
            buyer_vat_number=vat_no,
        )

    if not me.country:
        return line(Treatment.NONE)
    country = (buyer.country or me.country).upper()
    if not is_eu(country):
        return line(Treatment.OUTSIDE_SCOPE, country)
    if buyer.is_business and country != me.country:
        return line(Treatment.REVERSE_CHARGE, country)
    return line(Treatment.STANDARD, country, EU_VAT_RATES[country])


# --- VAT number validation --------------------------------------------------------------


@dataclass(frozen=True)
class VatCheck:
    valid: bool
    name: str = ""


class VatValidator(Protocol):
    def check(self, *, country: str, vat_number: str) -> VatCheck:
        """Whether the tax authority knows `vat_number` as a business of `country`.
        Raises VatServiceUnavailable when it cannot tell."""
        ...


class VatServiceUnavailable(Exception):
    pass


_VAT_SHAPE = re.compile(r"^[A-Z0-9+*]{2,12}$")


def vat_number_normalise(country: str, vat_number: str) -> str:
    """Upper case, no spaces, dots or dashes, without the country prefix."""
    value = re.sub(r"[\s.\-]", "", vat_number).upper()
    prefix = _VAT_PREFIX.get(country.upper(), country.upper())
    if prefix and value.startswith(prefix):
        value = value[len(prefix) :]
    return value


def vat_number_shape_ok(vat_number: str) -> bool:
    return bool(_VAT_SHAPE.match(vat_number))


class ViesValidator:
    """The EU's VIES REST service (`VIES_URL`). One request per check, with a timeout."""

    def __init__(self, *, url: str | None = None, timeout: float = 10.0) -> None:
        self.url = url or str(settings.VIES_URL)
        self.timeout = timeout

    def check(self, *, country: str, vat_number: str) -> VatCheck:
        prefix = _VAT_PREFIX.get(country.upper(), country.upper())
        try:
            response = requests.post(
                self.url,
                json={"countryCode": prefix, "vatNumber": vat_number},
                timeout=self.timeout,
            )
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise VatServiceUnavailable(str(exc)) from exc
        if body.get("userError") not in (None, "VALID", "INVALID"):
            raise VatServiceUnavailable(str(body.get("userError")))
        return VatCheck(valid=bool(body.get("valid")), name=str(body.get("name") or ""))


def get_vat_validator() -> VatValidator:
    """The validator `VAT_VALIDATOR_CLASS` names (VIES by default)."""
    return import_string(settings.VAT_VALIDATOR_CLASS)()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class VatAssessment:
    """A VAT number as it would be recorded and what the validator said of it. `problem`
    is why it did not validate, worded for the person who typed it ("" when it did, or
    when the service could not tell: `unavailable`)."""

    recorded: str
    valid: bool
    problem: str = ""
    unavailable: bool = False


def vat_number_assess(*, country: str, vat_number: str) -> VatAssessment:
    """Normalise and validate a buyer's VAT number for `country` (an HTTP call: never
    inside a transaction)."""
    number = vat_number_normalise(country, vat_number)
    if not number:
        return VatAssessment("", False)
    # Recorded as printed on invoices: with its country prefix (EL for Greece).
    recorded = _VAT_PREFIX.get(country.upper(), country.upper()) + number
    if not is_eu(country):
        return VatAssessment(recorded, False, "A VAT number is checked for an EU country only.")
    if not vat_number_shape_ok(number):
        return VatAssessment(recorded, False, "This is not the shape of a VAT number.")
    try:
        valid = get_vat_validator().check(country=country.upper(), vat_number=number).valid
    except VatServiceUnavailable:
        return VatAssessment(recorded, False, unavailable=True)
    if not valid:
        return VatAssessment(
            recorded,
            False,
            f"The EU's VIES service does not know this number in {country.upper()}.",
        )
    return VatAssessment(recorded, True)


def vat_number_verify(*, country: str, vat_number: str) -> tuple[str, bool]:
    """A buyer's VAT number as recorded (normalised, with its country prefix) and whether the validator knows it
    as a business of `country`. An HTTP call: never inside a transaction. A number of the
    wrong shape, or one the service cannot check now, is recorded as not validated (the
    sale is taxed like a consumer's until it is checked again)."""
    checked = vat_number_assess(country=country, vat_number=vat_number)
    return checked.recorded, checked.valid
