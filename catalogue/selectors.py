"""Catalogue reads shared by the API, the admin and other apps (orders price from here)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Min, Q, QuerySet

from ttelgo import sql
from ttelgo.errors import DomainError
from ttelgo.money import Money

from .models import Bundle, Country

CATALOGUE_VERSION_KEY = "esims:catalogue:version"

ORDERINGS: dict[str, tuple[str, ...]] = {
    "price": ("retail_amount", "code"),
    "-price": ("-retail_amount", "code"),
    # unlimited sorts as the most data
    "data": ("unlimited", "data_mb", "retail_amount", "code"),
    "-data": ("-unlimited", "-data_mb", "retail_amount", "code"),
    "validity": ("validity_days", "retail_amount", "code"),
    "-validity": ("-validity_days", "retail_amount", "code"),
    "name": ("code",),
}
DEFAULT_ORDERING = ("-featured", "retail_amount", "code")


# The version is read on every catalogue request; remembering it for a second saves a Redis
# round trip per cached answer (`make bench`, docs/PERFORMANCE.md). Other processes see a
# bump at most this late; this process at once (catalogue_cache_bump forgets it).
VERSION_MEMO_SECONDS = 1.0
_version_memo: tuple[str, float] | None = None


def catalogue_cache_version() -> str:
    global _version_memo
    now = time.monotonic()
    if _version_memo is not None and _version_memo[1] > now:
        return _version_memo[0]
    version = cache.get(CATALOGUE_VERSION_KEY)
    if version is None:
        version = "0"
        cache.add(CATALOGUE_VERSION_KEY, version, timeout=None)
    _version_memo = (str(version), now + VERSION_MEMO_SECONDS)
    return str(version)


def catalogue_cache_version_forget() -> None:
    global _version_memo
    _version_memo = None


def bundle_sellable_qs() -> QuerySet[Bundle]:
    return Bundle.objects.filter(is_active=True, hidden=False)


def bundle_get_sellable(*, code: str) -> Bundle:
    """The bundle an order may be placed for. Unknown code -> not_found; known but hidden
    or no longer offered by the provider -> bundle_unavailable."""
    # On every order, and the ORM's query building cost more than the statement: one
    # hand-written SELECT (ttelgo/sql.py, docs/PERFORMANCE.md).
    bundle = sql.select_one([(Bundle, "b")], "WHERE b.code = %s", [code])
    if bundle is None:
        raise DomainError("not_found", f"Bundle {code} does not exist.", details={"code": code})
    if not bundle.is_sellable:
        raise DomainError(
            "bundle_unavailable", f"Bundle {code} is not available.", details={"code": code}
        )
    return bundle


def bundle_get_public(*, code: str) -> Bundle:
    """A bundle for the public catalogue: anything not on sale is simply not there."""
    bundle = (
        bundle_sellable_qs()
        .select_related("region")
        .prefetch_related("countries")
        .filter(code=code)
        .first()
    )
    if bundle is None:
        raise DomainError("not_found", f"Bundle {code} does not exist.", details={"code": code})
    return bundle


def bundle_list_sellable(
    *,
    country: str | None = None,
    region: str | None = None,
    unlimited: bool | None = None,
    min_data_mb: int | None = None,
    max_price: int | None = None,
    ordering: str | None = None,
) -> QuerySet[Bundle]:
    """Sellable bundles, filtered; `max_price` in minor units of the catalogue currency.
    Related rows are fetched in a constant number of queries whatever the page size."""
    qs = bundle_sellable_qs()
    if country:
        # a subquery, not a join, so multi-country bundles are not repeated
        qs = qs.filter(
            pk__in=Bundle.countries.through.objects.filter(country__iso=country.upper()).values(
                "bundle_id"
            )
        )
    if region:
        qs = qs.filter(region__code=region.lower())
    if unlimited is not None:
        qs = qs.filter(unlimited=unlimited)
    if min_data_mb is not None:
        qs = qs.filter(Q(unlimited=True) | Q(data_mb__gte=min_data_mb))
    if max_price is not None:
        qs = qs.filter(retail_amount__lte=max_price)
    order = ORDERINGS[ordering] if ordering else DEFAULT_ORDERING
    return qs.select_related("region").prefetch_related("countries").order_by(*order)


@dataclass(frozen=True, slots=True)
class CountryOffer:
    iso: str
    name: str
    bundle_count: int
    from_price: Money


def country_list_with_offers() -> list[CountryOffer]:
    """Countries that have at least one bundle on sale, with the cheapest retail price."""
    on_sale = Q(bundles__is_active=True, bundles__hidden=False)
    rows: list[dict[str, Any]] = list(
        Country.objects.filter(on_sale)
        .values("iso", "name", "bundles__currency")
        .annotate(
            bundle_count=Count("bundles", filter=on_sale),
            from_amount=Min("bundles__retail_amount", filter=on_sale),
        )
        .order_by("name", "iso")
    )
    return [
        CountryOffer(
            iso=r["iso"],
            name=r["name"],
            bundle_count=r["bundle_count"],
            from_price=Money(r["from_amount"], r["bundles__currency"]),
        )
        for r in rows
    ]
