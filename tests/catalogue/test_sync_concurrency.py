"""Concurrent syncs (beat + an operator's "sync now") on real PostgreSQL with threads."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from catalogue.models import Bundle, BundlePriceHistory
from catalogue.services import catalogue_sync
from ttelgo.errors import DomainError

from .factories import EditableCatalogueProvider, pbundle


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_syncs_never_duplicate_or_half_apply():
    provider = EditableCatalogueProvider([pbundle(f"b{i}", cost=300 + i) for i in range(40)])
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def run() -> None:
        try:
            barrier.wait()
            catalogue_sync(provider=provider)
            outcomes.append("ok")
        except DomainError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "ok" in outcomes and set(outcomes) <= {"ok", "conflict"}
    assert Bundle.objects.count() == 40
    # each bundle got exactly one initial price row, however many syncs ran
    assert BundlePriceHistory.objects.count() == 40


def test_get_provider_follows_settings(settings):
    from providers import get_provider
    from sandbox.provider import SandboxProvider

    settings.ESIM_PROVIDER = "sandbox"
    assert isinstance(get_provider(), SandboxProvider)
    settings.ESIM_PROVIDER = "esimgo"
    settings.ESIMGO_API_KEY = ""
    from django.core.exceptions import ImproperlyConfigured

    import providers

    providers._clients.clear()
    with pytest.raises(ImproperlyConfigured):
        get_provider()
    settings.ESIMGO_API_KEY = "k"
    from providers.esimgo import EsimGoProvider

    try:
        assert isinstance(get_provider(), EsimGoProvider)
        assert get_provider() is get_provider()
    finally:
        providers._clients.clear()
