"""Serializer pieces shared by the catalogue views."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from ttelgo.fields import MoneyField
from ttelgo.filters import QueryFilters
from ttelgo.money import Money

from .fx import customer_currencies
from .models import Bundle, Country, Region
from .selectors import ORDERINGS


class CatalogueCountryRefSerializer(serializers.Serializer):
    iso = serializers.CharField()
    name = serializers.CharField()


class CatalogueFilterSerializer(QueryFilters):
    """Query parameters of the bundle lists. Validate with a plain dict (not a QueryDict) so
    an absent `unlimited` means "either", not false. Unknown names, and a country or region
    the catalogue does not know, are refused (an empty 200 would look like "no bundles")."""

    country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False, help_text="ISO 3166 alpha-2")
    region = serializers.SlugField(required=False)
    unlimited = serializers.BooleanField(required=False, allow_null=True, default=None)
    min_data_mb = serializers.IntegerField(required=False, min_value=0)
    max_price = serializers.DecimalField(
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=0,
        help_text="upper bound on the retail price, in the catalogue currency",
    )
    ordering = serializers.ChoiceField(choices=list(ORDERINGS), required=False)
    currency = serializers.CharField(
        required=False,
        max_length=3,
        help_text=(
            "ISO 4217: show prices in one of the currencies customers may choose "
            "(CUSTOMER_CURRENCIES), converted once when the price list was built; omitted, "
            "the catalogue's own. Order with the same `currency` to pay in it"
        ),
    )
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)

    def validate_country(self, value: str) -> str:
        if not Country.objects.filter(iso=value.upper()).exists():
            raise serializers.ValidationError(f"Unknown country {value.upper()}.")
        return value

    def validate_region(self, value: str) -> str:
        if not Region.objects.filter(code=value.lower()).exists():
            raise serializers.ValidationError(f"Unknown region {value}.")
        return value

    def validate_currency(self, value: str) -> str:
        return currency_choice_check(value)

    def to_filters(self) -> dict[str, Any]:
        data = dict(self.validated_data)
        data.pop("currency", None)  # how prices are shown, not which bundles
        data.pop("page", None)
        data.pop("page_size", None)
        if data.get("max_price") is not None:
            data["max_price"] = Money.from_decimal(
                data["max_price"], settings.DEFAULT_CURRENCY
            ).amount
        return data


def currency_choice_check(value: str) -> str:
    """A currency a customer may choose (the catalogue's own or CUSTOMER_CURRENCIES)."""
    value = (value or "").upper()
    allowed = [settings.DEFAULT_CURRENCY, *customer_currencies()]
    if value and value not in allowed:
        raise serializers.ValidationError(f"One of {', '.join(allowed)}.")
    return value


def bundle_fields(bundle: Bundle) -> dict[str, Any]:
    """The API shape of a bundle without its price (API.md "Catalogue")."""
    return {
        "code": bundle.code,
        "name": bundle.name,
        "description": bundle.description or bundle.provider_description,
        "countries": [{"iso": c.iso, "name": c.name} for c in bundle.countries.all()],
        "region": bundle.region.code if bundle.region else None,
        "data_mb": bundle.data_mb,
        "unlimited": bundle.unlimited,
        "validity_days": bundle.validity_days,
        "featured": bundle.featured,
    }


class BundleBaseOutputSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    countries = CatalogueCountryRefSerializer(many=True)
    region = serializers.CharField(allow_null=True)
    data_mb = serializers.IntegerField(help_text="0 when unlimited")
    unlimited = serializers.BooleanField()
    validity_days = serializers.IntegerField()
    featured = serializers.BooleanField()
    price = MoneyField()
