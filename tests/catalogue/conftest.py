from __future__ import annotations

import uuid

import pytest

from catalogue.services import catalogue_sync
from providers.esimgo import EsimGoProvider, build_breaker
from sandbox.provider import sandbox_faults_reset


@pytest.fixture(autouse=True)
def _no_sandbox_faults():
    sandbox_faults_reset()
    yield
    sandbox_faults_reset()


@pytest.fixture
def synced_catalogue(db, django_capture_on_commit_callbacks):
    """The full sandbox catalogue, synced the way production does it."""
    with django_capture_on_commit_callbacks(execute=True):
        return catalogue_sync()


class Sleeps(list):
    """Stands in for time.sleep: records every wait the client asked for."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def esimgo(sleeps) -> EsimGoProvider:
    """An eSIM Go client against the mocked base URL, with its own in-memory breaker."""
    from .esimgo_data import BASE, KEY

    breaker = build_breaker(
        name=f"t-{uuid.uuid4().hex}", fail_max=50, reset_timeout=60, redis_url=""
    )
    return EsimGoProvider(api_key=KEY, base_url=BASE, currency="USD", breaker=breaker, sleep=sleeps)
