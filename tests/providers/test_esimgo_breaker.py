"""The eSIM Go client's circuit breaker: opens after repeated failures, closes after its
reset timeout, and is shared between client instances (through Redis across processes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pybreaker
import pytest
import responses
import time_machine
from django.conf import settings

from providers import CircuitOpen, ProviderRejected, ProviderUnavailable
from providers import esimgo as esimgo_module
from providers.esimgo import EsimGoProvider, build_breaker

from .esimgo_data import BASE, KEY


# --- circuit breaker ----------------------------------------------------------------------
def _two_clients(breaker_factory):
    return [
        EsimGoProvider(
            api_key=KEY,
            base_url=BASE,
            breaker=breaker_factory(),
            sleep=lambda s: None,
            max_attempts=1,
        )
        for _ in range(2)
    ]


def _breaker_opens_and_closes(first: EsimGoProvider, second: EsimGoProvider, fail_max: int):
    failing = responses.get(f"{BASE}/esims/x", status=503)
    for _ in range(fail_max):
        with pytest.raises(ProviderUnavailable):
            first.get_esim("x")
    calls = failing.call_count
    # the *other* client refuses without sending anything
    with pytest.raises(CircuitOpen) as err:
        second.get_esim("x")
    assert err.value.transient
    assert failing.call_count == calls
    # a 400 never counts towards opening (checked on a fresh state below)
    responses.replace(responses.GET, f"{BASE}/esims/x", json={"iccid": "x"})
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=61), tick=True):
        assert second.get_esim("x").iccid == "x"  # half-open trial succeeds -> closed
        assert first.get_esim("x").iccid == "x"
        assert first.breaker.current_state == pybreaker.STATE_CLOSED


@responses.activate
def test_breaker_opens_after_repeated_failures_and_closes_after_reset_in_process():
    name = f"t-{uuid.uuid4().hex}"
    first, second = _two_clients(
        lambda: esimgo_module.shared_breaker(name=name, fail_max=3, reset_timeout=60)
    )
    assert first.breaker is second.breaker
    _breaker_opens_and_closes(first, second, 3)


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (run under .ci/services.sh)")
@responses.activate
def test_breaker_state_is_shared_between_clients_through_redis():
    name = f"t-{uuid.uuid4().hex}"
    first, second = _two_clients(
        lambda: build_breaker(name=name, fail_max=3, reset_timeout=60, redis_url=settings.REDIS_URL)
    )
    assert first.breaker is not second.breaker  # separate objects, as in separate processes
    _breaker_opens_and_closes(first, second, 3)


@responses.activate
def test_client_errors_do_not_open_the_breaker():
    breaker = build_breaker(
        name=f"t-{uuid.uuid4().hex}", fail_max=2, reset_timeout=60, redis_url=""
    )
    client = EsimGoProvider(api_key=KEY, base_url=BASE, breaker=breaker, sleep=lambda s: None)
    responses.get(f"{BASE}/esims/x", status=400, json={"message": "bad"})
    for _ in range(5):
        with pytest.raises(ProviderRejected):
            client.get_esim("x")
    assert breaker.current_state == pybreaker.STATE_CLOSED
