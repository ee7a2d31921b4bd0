"""The catalogue cache version is remembered per process for a second: a bump by this
process applies at once, one by another process within VERSION_MEMO_SECONDS."""

from __future__ import annotations

import time

from django.core.cache import cache

from esims import selectors
from esims.selectors import CATALOGUE_VERSION_KEY, catalogue_cache_version
from esims.services import catalogue_cache_bump


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
