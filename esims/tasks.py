"""Celery tasks of the catalogue: thin wrappers around services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .services import catalogue_reprice as _catalogue_reprice
from .services import catalogue_sync as _catalogue_sync


@shared_task(name="esims.tasks.catalogue_sync", ignore_result=True)
def catalogue_sync() -> dict[str, Any]:
    result = _catalogue_sync()
    return {
        "created": result.created,
        "updated": result.updated,
        "deactivated": result.deactivated,
        "unchanged": result.unchanged,
    }


@shared_task(name="esims.tasks.catalogue_reprice", ignore_result=True)
def catalogue_reprice() -> int:
    return _catalogue_reprice()
