"""Catalogue answers close to the process: the cache version is remembered for a second (a
bump here applies at once, one elsewhere within VERSION_MEMO_SECONDS), and hot answers are
kept in process memory, keyed by that version."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from catalogue import api as catalogue_api
from catalogue import selectors
from catalogue.selectors import CATALOGUE_VERSION_KEY, catalogue_cache_version
from catalogue.services import catalogue_cache_bump
from tests.orders.factories import bundles_create


def test_a_bump_here_is_seen_at_once():
    before = catalogue_cache_version()
    catalogue_cache_bump()
    assert catalogue_cache_version() != before


def test_a_bump_elsewhere_is_seen_within_the_memo_time(monkeypatch):
    monkeypatch.setattr(selectors, "VERSION_MEMO_SECONDS", 0.2)
    catalogue_cache_bump()
    mine = catalogue_cache_version()
    cache.set(CATALOGUE_VERSION_KEY, "set-by-another-process", timeout=None)
    assert catalogue_cache_version() == mine  # remembered, no cache read
    time.sleep(0.25)
    assert catalogue_cache_version() == "set-by-another-process"


@pytest.fixture
def local_cache(settings):
    settings.CATALOGUE_LOCAL_CACHE = True
    catalogue_api._local.clear()
    yield catalogue_api._local
    catalogue_api._local.clear()


def test_a_hot_answer_is_served_from_process_memory_until_the_catalogue_changes(
    api_client, local_cache, monkeypatch, db
):
    from catalogue.models import Country

    bundles_create()
    Country.objects.create(iso="GB", name="United Kingdom")
    path = "/api/v1/catalogue/bundles?country=GB"
    first = api_client.get(path)
    reads: list[str] = []
    real_get = catalogue_api.cache.get
    monkeypatch.setattr(
        catalogue_api.cache, "get", lambda key, *a, **k: reads.append(key) or real_get(key, *a, **k)
    )
    again = api_client.get(path)
    assert (first["X-Cache"], again["X-Cache"]) == ("miss", "hit")
    assert again.content == first.content and reads == []  # no round trip to the shared cache
    catalogue_cache_bump()
    assert api_client.get(path)["X-Cache"] == "miss"


def test_process_memory_keeps_a_bounded_number_of_answers(local_cache):
    for i in range(catalogue_api.LOCAL_CACHE_ENTRIES + 10):
        catalogue_api._local_put(f"k{i}", b"x")
    assert len(local_cache) == catalogue_api.LOCAL_CACHE_ENTRIES
    assert "k0" not in local_cache and f"k{catalogue_api.LOCAL_CACHE_ENTRIES + 9}" in local_cache
