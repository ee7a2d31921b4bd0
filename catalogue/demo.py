"""Demo data for `manage.py seed_demo`: the sandbox catalogue, synced like production."""

from __future__ import annotations

from typing import Any

from .services import catalogue_sync


def seed_demo(stdout: Any) -> list[str]:
    result = catalogue_sync()
    return [f"Catalogue: {result.total} bundles in {result.countries} countries"]
