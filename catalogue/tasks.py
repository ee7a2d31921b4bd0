"""Celery tasks of the catalogue: thin wrappers around services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from providers import ProviderRateLimited, ProviderUnavailable
from ttelgo.transient import DATABASE_FAULTS

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
    result = _catalogue_sync()
    return {
        "created": result.created,
        "updated": result.updated,
        "deactivated": result.deactivated,
        "unchanged": result.unchanged,
    }


@shared_task(name="catalogue.tasks.catalogue_reprice", ignore_result=True)
def catalogue_reprice() -> int:
    return _catalogue_reprice()


# The names these tasks had while the app was called `esims`: a deploy may find messages
# sent under them in the broker (or in the outbox). Same function, same options, same
# queue (CELERY_TASK_ROUTES). Remove both, and their routes, once every worker runs this
# release and the maintenance queue has no message under the old names left.
@shared_task(
    name="esims.tasks.catalogue_sync",
    ignore_result=True,
    autoretry_for=(ProviderUnavailable, ProviderRateLimited, *DATABASE_FAULTS),
    retry_backoff=60,
    max_retries=3,
)
def esims_catalogue_sync() -> dict[str, Any]:
    return catalogue_sync()


@shared_task(name="esims.tasks.catalogue_reprice", ignore_result=True)
def esims_catalogue_reprice() -> int:
    return catalogue_reprice()
