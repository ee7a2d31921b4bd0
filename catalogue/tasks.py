"""Celery tasks of the catalogue: thin wrappers around services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from providers import ProviderRateLimited, ProviderUnavailable, get_provider
from ttelgo.transient import DATABASE_FAULTS

from .fx import fx_rates_refresh
from .services import catalogue_offers_sync
from .services import catalogue_reprice as _catalogue_reprice
from .services import catalogue_sync as _catalogue_sync


@shared_task(
    name="catalogue.tasks.catalogue_sync",
    ignore_result=True,
    # a provider hiccup is retried later; the next hourly run would catch up anyway
    autoretry_for=(ProviderUnavailable, ProviderRateLimited, *DATABASE_FAULTS),
    retry_backoff=60,
    max_retries=3,
)
def catalogue_sync() -> dict[str, Any]:
    if settings.CUSTOMER_CURRENCIES:
        # Today's exchange rates first (an HTTP call, outside any transaction): the sync
        # builds the customers' currencies' price lists with them.
        fx_rates_refresh(day=timezone.localdate())
    result = _catalogue_sync()
    offers = {}
    # The other enabled providers' packages become offers of the products just synced.
    for name in settings.ESIM_PROVIDERS:
        if name not in (settings.ESIM_PROVIDER, "sandbox"):
            synced = catalogue_offers_sync(provider=get_provider(name=name))
            offers[name] = {"matched": synced.matched, "unmatched": synced.unmatched}
    return {
        "created": result.created,
        "updated": result.updated,
        "deactivated": result.deactivated,
        "unchanged": result.unchanged,
        "offers": offers,
    }


@shared_task(name="catalogue.tasks.catalogue_reprice", ignore_result=True)
def catalogue_reprice() -> int:
    return _catalogue_reprice()


# Aliases: the names these tasks had while the app was called esims, so messages queued
# under them before the rename (in the broker, in outbox rows) still run: the same
# functions with the same options, routed alike (settings.TASK_NAME_ALIASES). Remove one
# release after the rename, once no worker can find the old names queued.
catalogue_sync_old_name = shared_task(
    name="esims.tasks.catalogue_sync",
    ignore_result=True,
    autoretry_for=(ProviderUnavailable, ProviderRateLimited, *DATABASE_FAULTS),
    retry_backoff=60,
    max_retries=3,
)(catalogue_sync.run)
catalogue_reprice_old_name = shared_task(name="esims.tasks.catalogue_reprice", ignore_result=True)(
    catalogue_reprice.run
)
