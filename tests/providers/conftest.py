"""Fixtures of the provider tests: an eSIM Go client against a mocked base URL."""

from __future__ import annotations

import uuid

import pytest

from providers.esimgo import EsimGoProvider, build_breaker


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
