"""Catalogue services: sync from the provider, reprice, operator overrides, cache bump."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any, cast

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone
from django.utils.text import slugify

from catalogue.lock_objects import bundle_offer_qs_select_for_update, bundle_qs_select_for_update
from providers import Provider, ProviderBundle, get_provider
from ttelgo.errors import DomainError
from ttelgo.money import Money

from .fx import bundle_price_lists_build
from .models import Bundle, BundleOffer, BundlePriceHistory, Country, PriceRule, Region
from .pricing import RuleBook, bundle_retail_amount
from .selectors import CATALOGUE_VERSION_KEY, catalogue_cache_version_forget

logger = logging.getLogger(__name__)

SYNC_LOCK_KEY = "esims:catalogue:sync-lock"
SYNC_LOCK_SECONDS = 600
GLOBAL_REGION = ("global", "Global")
OVERRIDE_FIELDS = ("display_name", "description", "hidden", "featured")


@dataclass(frozen=True, slots=True)
class SyncResult:
    created: int
    updated: int
    deactivated: int
    unchanged: int
    countries: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def __str__(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.deactivated} deactivated, "
            f"{self.unchanged} unchanged ({self.total} bundles in {self.countries} countries)"
        )


def catalogue_cache_bump() -> None:
    """Invalidate every cached catalogue response at once (keys embed the version)."""
    cache.set(CATALOGUE_VERSION_KEY, uuid.uuid4().hex, timeout=None)
    catalogue_cache_version_forget()


def _upsert_geography(remote: list[ProviderBundle]) -> tuple[dict[str, Region], dict[str, Country]]:
    region_names = {c.region for b in remote for c in b.countries if c.region}
    region_names.add(GLOBAL_REGION[1])
    regions = {r.code: r for r in Region.objects.all()}
    for name in sorted(region_names):
        code = slugify(name)
        region = regions.get(code)
        if region is None:
            regions[code] = Region.objects.create(code=code, name=name)
        elif region.name != name:
            region.name = name
            region.save(update_fields=["name"])
    wanted = {c.iso: c for b in remote for c in b.countries}
    countries = {c.iso: c for c in Country.objects.all()}
    for iso, pc in sorted(wanted.items()):
        region = regions.get(slugify(pc.region)) if pc.region else None
        country = countries.get(iso)
        if country is None:
            countries[iso] = Country.objects.create(iso=iso, name=pc.name, region=region)
        elif (country.name, country.region_id) != (pc.name, region.pk if region else None):
            country.name, country.region = pc.name, region
            country.save(update_fields=["name", "region"])
    return regions, countries


def _bundle_region(pb: ProviderBundle, regions: dict[str, Region]) -> Region | None:
    names = {c.region for c in pb.countries if c.region}
    if len(names) == 1:
        return regions[slugify(names.pop())]
    return regions[GLOBAL_REGION[0]] if len(pb.countries) > 1 else None


SYNC_STATUS_KEY = "esims:catalogue:sync:status"


def catalogue_sync_status() -> dict[str, Any] | None:
    """The last catalogue sync as the console shows it: `state` queued | running | done |
    failed, with its times, its counts or its error."""
    status: dict[str, Any] | None = cache.get(SYNC_STATUS_KEY)
    return status


def catalogue_sync_status_set(state: str, **fields: Any) -> None:
    previous = catalogue_sync_status() or {}
    keep = {k: previous[k] for k in ("queued_at", "started_at", "by") if k in previous}
    if state == "queued":
        keep = {}
    cache.set(
        SYNC_STATUS_KEY,
        {**keep, "state": state, f"{state}_at": timezone.now().isoformat(), **fields},
        timeout=7 * 86400,
    )


def catalogue_sync(*, provider: Provider | None = None) -> SyncResult:
    """Bring the catalogue in line with the provider: create new bundles, update changed
    provider data (never the operator overrides), deactivate bundles that vanished,
    reactivate ones that came back, and reprice. Running it twice changes nothing. Its
    progress and outcome are kept for the console (`catalogue_sync_status`)."""
    provider = provider or get_provider()
    catalogue_sync_status_set("running")
    try:
        remote = provider.list_bundles()  # network first, outside the transaction
        if not cache.add(SYNC_LOCK_KEY, "1", timeout=SYNC_LOCK_SECONDS):
            raise DomainError("conflict", "A catalogue sync is already running.")
        try:
            result = _apply_sync(remote, provider_name=provider.name)
        finally:
            cache.delete(SYNC_LOCK_KEY)
    except DomainError as exc:
        if exc.code != "conflict":  # another sync is running: its status stands
            catalogue_sync_status_set("failed", error=exc.message[:500])
        raise
    except Exception as exc:
        catalogue_sync_status_set("failed", error=str(exc)[:500])
        raise
    catalogue_sync_status_set("done", result=str(result))
    logger.info("catalogue sync: %s", result)
    return result


PROVIDER_FIELDS = (
    "provider", "provider_description", "region", "data_mb", "unlimited", "validity_days",
    "cost_amount", "currency", "retail_amount", "is_active", "deactivated_at", "last_synced_at",
)  # fmt: skip


def _provider_state(bundle: Bundle, country_ids: list[int]) -> tuple[object, ...]:
    # The region by its id: reading `bundle.region` would fetch it, one query per bundle.
    values = tuple(
        getattr(bundle, f) for f in PROVIDER_FIELDS if f not in ("last_synced_at", "region")
    )
    return (*values, bundle.region_id, country_ids)


def _bundles_update(bundles: list[Bundle], fields: tuple[str, ...]) -> None:
    """`fields` of each bundle written back, one `UPDATE ... WHERE id` per row sent in a
    batch (`executemany`, pipelined by psycopg). Django's `bulk_update` builds a CASE per
    field over the whole batch: at 10,000 bundles its SQL took most of a sync to compile."""
    if not bundles:
        return
    quote = connection.ops.quote_name
    columns = [cast(Field, Bundle._meta.get_field(f)) for f in fields]  # type: ignore[type-arg]
    sql = (
        f"UPDATE {quote(Bundle._meta.db_table)} SET "  # noqa: S608 - names from the model
        + ", ".join(f"{quote(str(c.column))} = %s" for c in columns)
        + f" WHERE {quote(Bundle._meta.pk.column)} = %s"
    )
    rows = [
        [c.get_db_prep_save(getattr(b, c.attname), connection) for c in columns] + [b.pk]
        for b in bundles
    ]
    with connection.cursor() as cur:
        cur.executemany(sql, rows)


def _price_history_record(bundles: list[Bundle], *, reason: str) -> None:
    """One price-history row per bundle, with its prices as they are now."""
    BundlePriceHistory.objects.bulk_create(
        [
            BundlePriceHistory(
                bundle=b,
                cost_amount=b.cost_amount,
                retail_amount=b.retail_amount,
                currency=b.currency,
                reason=reason,
            )
            for b in bundles
        ],
        batch_size=500,
    )


def _apply_sync(remote: list[ProviderBundle], *, provider_name: str) -> SyncResult:
    """Bulk writes: a provider catalogue runs to thousands of bundles, so rows are created
    and updated in batches and only changed country sets are rewritten."""
    now = timezone.now()
    through = Bundle.countries.through
    with transaction.atomic():
        regions, countries = _upsert_geography(remote)
        book = RuleBook()
        existing = {
            b.code: b
            for b in bundle_qs_select_for_update().order_by("pk").prefetch_related("countries")
        }
        to_create: list[tuple[Bundle, list[int]]] = []
        to_update: list[Bundle] = []
        new_countries: dict[int, list[int]] = {}
        priced: list[Bundle] = []
        unchanged = 0
        for pb in remote:
            country_ids = sorted(countries[c.iso].pk for c in pb.countries)
            bundle = existing.get(pb.code)
            before = None
            old_prices = None
            if bundle is None:
                bundle = Bundle(code=pb.code)
            else:
                old_ids = sorted(c.pk for c in bundle.countries.all())
                before = _provider_state(bundle, old_ids)
                old_prices = (bundle.cost_amount, bundle.retail_amount)
            bundle.provider = provider_name
            bundle.provider_description = pb.description[:300]
            bundle.region = _bundle_region(pb, regions)
            bundle.data_mb = pb.data_mb
            bundle.unlimited = pb.unlimited
            bundle.validity_days = pb.validity_days
            bundle.cost_amount = pb.cost.amount
            bundle.currency = pb.cost.currency
            bundle.retail_amount = bundle_retail_amount(
                bundle=bundle, cost=pb.cost, book=book, country_ids=country_ids
            )
            bundle.is_active = True
            bundle.deactivated_at = None
            bundle.last_synced_at = now
            if before is None:
                to_create.append((bundle, country_ids))
            elif before != _provider_state(bundle, country_ids):
                to_update.append(bundle)
                if before[-1] != country_ids:
                    new_countries[bundle.pk] = country_ids
            else:
                unchanged += 1
            if old_prices != (bundle.cost_amount, bundle.retail_amount):
                priced.append(bundle)

        Bundle.objects.bulk_create([b for b, _ in to_create], batch_size=500)
        _bundles_update(to_update, PROVIDER_FIELDS)
        through.objects.filter(bundle_id__in=list(new_countries)).delete()
        links = [(b.pk, ids) for b, ids in to_create] + list(new_countries.items())
        through.objects.bulk_create(
            [through(bundle_id=pk, country_id=cid) for pk, ids in links for cid in ids],
            batch_size=1000,
        )
        _price_history_record(priced, reason="sync")
        seen = {pb.code for pb in remote}
        vanished = [b.pk for code, b in existing.items() if code not in seen and b.is_active]
        deactivated = Bundle.objects.filter(pk__in=vanished, is_active=True).update(
            is_active=False, deactivated_at=now
        )
        Bundle.objects.filter(is_active=True).update(last_synced_at=now)
        # The customers' currencies' price lists, converted once here at the day's rates.
        bundle_price_lists_build(day=timezone.localdate())
        transaction.on_commit(catalogue_cache_bump)
    n_countries = len({c.iso for b in remote for c in b.countries})
    return SyncResult(len(to_create), len(to_update), deactivated, unchanged, n_countries)


@dataclass(frozen=True)
class OffersSyncResult:
    matched: int  # packages that are offers of one of our products now
    unmatched: int  # packages equivalent to none of our products: not sold
    deactivated: int  # offers the provider no longer lists


def _data_class(data_mb: int, unlimited: bool) -> float:
    """Data in GB whichever way a provider counts one (eSIM Go 1000 MB, Airalo 1024)."""
    if unlimited:
        return -1.0
    return round(data_mb / (1024 if data_mb % 1024 == 0 else 1000), 2)


def _equivalence(countries: frozenset[str], data_mb: int, unlimited: bool, days: int) -> tuple:  # type: ignore[type-arg]
    return (countries, _data_class(data_mb, unlimited), days)


def catalogue_offers_sync(*, provider: Provider) -> OffersSyncResult:
    """Attach a second provider's packages to the products they are equivalent to (the
    same countries, data and validity: neither provider states a speed class), as offers
    (fulfilment/routing.py); our product, its code and its one price do not change. Of
    several equivalent packages the cheapest is the offer. A package equivalent to no
    product is not sold (counted); offers it no longer lists are deactivated. Running
    twice changes nothing."""
    remote = provider.list_bundles()  # network first, outside the transaction
    now = timezone.now()
    with transaction.atomic():
        products: dict[tuple, Bundle] = {}  # type: ignore[type-arg]
        for bundle in (
            bundle_qs_select_for_update()
            .filter(is_active=True)
            .exclude(provider=provider.name)
            .order_by("pk")
            .prefetch_related("countries")
        ):
            key = _equivalence(
                frozenset(c.iso for c in bundle.countries.all()),
                bundle.data_mb,
                bundle.unlimited,
                bundle.validity_days,
            )
            products.setdefault(key, bundle)
        best: dict[int, ProviderBundle] = {}
        unmatched = 0
        for pb in remote:
            product = products.get(
                _equivalence(
                    frozenset(c.iso for c in pb.countries),
                    pb.data_mb,
                    pb.unlimited,
                    pb.validity_days,
                )
            )
            if product is None or pb.cost.currency != product.currency:
                unmatched += 1
                continue
            current = best.get(product.pk)
            if current is None or pb.cost.amount < current.cost.amount:
                best[product.pk] = pb
        existing = {
            o.bundle_id: o
            for o in bundle_offer_qs_select_for_update().filter(provider=provider.name)
        }
        # A package now the offer of another product: free its code before it is reused
        # (unique per provider).
        kept_codes = {pb.code for pb in best.values()}
        stale = [
            o.pk
            for bundle_id, o in existing.items()
            if o.provider_code in kept_codes
            and (bundle_id not in best or best[bundle_id].code != o.provider_code)
        ]
        BundleOffer.objects.filter(pk__in=stale).delete()
        for bundle_id, pb in best.items():
            BundleOffer.objects.update_or_create(
                bundle_id=bundle_id,
                provider=provider.name,
                defaults={
                    "provider_code": pb.code,
                    "cost_amount": pb.cost.amount,
                    "currency": pb.cost.currency,
                    "is_active": True,
                    "last_synced_at": now,
                },
            )
        deactivated = (
            BundleOffer.objects.filter(provider=provider.name, is_active=True)
            .exclude(bundle_id__in=list(best))
            .update(is_active=False, last_synced_at=now)
        )
    result = OffersSyncResult(len(best), unmatched, deactivated)
    logger.info("catalogue offers sync (%s): %s", provider.name, result)
    return result


def catalogue_reprice() -> int:
    """Recompute every bundle's retail price from the current rules (after a rule change).
    Returns how many prices changed; each change gets a price-history row."""
    with transaction.atomic():
        book = RuleBook()
        bundles = list(bundle_qs_select_for_update().order_by("pk").prefetch_related("countries"))
        changed: list[Bundle] = []
        for bundle in bundles:
            amount = bundle_retail_amount(
                bundle=bundle,
                cost=Money(bundle.cost_amount, bundle.currency),
                book=book,
                country_ids=[c.pk for c in bundle.countries.all()],
            )
            if amount != bundle.retail_amount:
                bundle.retail_amount = amount
                changed.append(bundle)
        Bundle.objects.bulk_update(changed, ["retail_amount"], batch_size=500)
        _price_history_record(changed, reason="reprice")
        # The customers' currencies' price lists follow the new prices (same rates).
        bundle_price_lists_build(day=timezone.localdate(), bundles=bundles)
        transaction.on_commit(catalogue_cache_bump)
    return len(changed)


def price_rule_save(*, rule: PriceRule) -> int:
    """Create or change a price rule and reprice the catalogue in the same transaction.
    Returns how many bundle prices changed."""
    try:
        rule.full_clean()
    except ValidationError as exc:
        raise DomainError(
            "validation_error", "The price rule is not valid.", details=exc.message_dict
        )
    with transaction.atomic():
        rule.save()
        return catalogue_reprice()


def price_rule_delete(*, rule: PriceRule) -> int:
    with transaction.atomic():
        rule.delete()
        return catalogue_reprice()


def bundle_overrides_update(*, bundle: Bundle, **overrides: object) -> Bundle:
    """Operator overrides (display name, description, hidden, featured); sync keeps them."""
    unknown = set(overrides) - set(OVERRIDE_FIELDS)
    if unknown:
        raise DomainError("validation_error", f"Not an override: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        for name, value in overrides.items():
            setattr(bundle, name, value)
        bundle.save(update_fields=list(overrides))
        transaction.on_commit(catalogue_cache_bump)
    return bundle
