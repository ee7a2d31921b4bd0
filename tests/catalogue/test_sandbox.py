"""The sandbox provider: realistic catalogue and eSIMs, progressing usage, switchable faults."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from providers import (
    ProviderNotFound,
    ProviderOrder,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    get_provider,
)
from sandbox.provider import (
    SandboxFaults,
    SandboxProvider,
    luhn_valid,
    make_iccid,
    sandbox_faults_set,
)

pytestmark = pytest.mark.django_db

BUNDLE = "esim_UL_15D_GB_V2"


@pytest.fixture
def sandbox() -> SandboxProvider:
    provider = get_provider()
    assert isinstance(provider, SandboxProvider)
    return provider


def limited_bundle(sandbox: SandboxProvider, *, days: int | None = None) -> str:
    return next(
        b.code
        for b in sandbox.list_bundles()
        if not b.unlimited and len(b.countries) == 1 and (days is None or b.validity_days == days)
    )


def test_catalogue_is_realistic(sandbox):
    bundles = sandbox.list_bundles()
    assert len(bundles) >= 150
    assert len({c.iso for b in bundles for c in b.countries}) >= 60
    assert any(len(b.countries) > 10 for b in bundles)  # regional
    assert any(len(b.countries) >= 60 for b in bundles)  # global
    assert any(b.unlimited for b in bundles)
    limited = [b for b in bundles if not b.unlimited]
    assert min(b.data_mb for b in limited) == 1000 and max(b.data_mb for b in limited) == 50000
    assert (
        min(b.validity_days for b in bundles) >= 1 and max(b.validity_days for b in bundles) == 90
    )
    assert all(50 <= b.cost.amount <= 20000 for b in bundles)  # $0.50 .. $200 wholesale
    assert sandbox.list_bundles() == SandboxProvider().list_bundles()  # deterministic


@pytest.mark.parametrize("seed", ["a", "b", "order:1:0", "x" * 40])
def test_iccids_are_19_digits_with_a_valid_luhn_digit(seed):
    iccid = make_iccid(seed)
    assert re.fullmatch(r"89\d{17}", iccid)
    assert luhn_valid(iccid)
    assert not luhn_valid(iccid[:-1] + str((int(iccid[-1]) + 1) % 10))


def test_luhn_matches_a_known_number():
    assert luhn_valid("79927398713")  # the textbook example
    assert not luhn_valid("79927398710")


def test_order_delivers_esims_and_can_be_found_by_our_reference(sandbox):
    code = limited_bundle(sandbox)
    order = sandbox.create_order(bundle_code=code, quantity=2, reference="order:77")
    assert order.is_complete and len(order.esims) == 2
    assert all(luhn_valid(e.iccid) and e.smdp_address and e.matching_id for e in order.esims)
    assert len({e.iccid for e in order.esims}) == 2
    found = sandbox.find_order("order:77")
    assert found is not None and found.reference == order.reference
    assert sandbox.find_order("order:78") is None
    assert sandbox.get_esim(order.esims[0].iccid).customer_ref == "order:77"
    # a second process (a fresh instance) sees the same state
    assert SandboxProvider().get_order(order.reference).esims == order.esims


def test_large_and_processing_orders_complete_later(sandbox):
    code = limited_bundle(sandbox)
    big = sandbox.create_order(bundle_code=code, quantity=6, reference="order:big")
    assert big.status == ProviderOrder.STATUS_PROCESSING and big.esims == []
    sandbox_faults_set(SandboxFaults(mode="processing", processing_seconds=30))
    small = sandbox.create_order(bundle_code=code, quantity=1, reference="order:small")
    assert small.status == ProviderOrder.STATUS_PROCESSING
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=31)):
        assert SandboxProvider(faults=SandboxFaults()).get_order(small.reference).is_complete
        assert SandboxProvider(faults=SandboxFaults()).get_order(big.reference).is_complete


def test_usage_progresses_over_time(sandbox):
    code = limited_bundle(sandbox, days=30)
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        iccid = sandbox.create_order(bundle_code=code, quantity=1, reference="o").esims[0].iccid
        [fresh] = sandbox.get_usage(iccid)
    # eSIM Go's states: queued from the assignment until first use (an hour later here).
    assert fresh.remaining_bytes == fresh.initial_bytes and fresh.state == "queued"
    with time_machine.travel(datetime(2026, 1, 1, 1, 1, tzinfo=UTC), tick=False):
        assert [u.state for u in sandbox.get_usage(iccid)] == ["active"]
    with time_machine.travel(datetime(2026, 1, 8, tzinfo=UTC), tick=False):
        [week] = sandbox.get_usage(iccid)
    assert 0 < week.remaining_bytes < fresh.initial_bytes and week.state == "active"
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        [late] = sandbox.get_usage(iccid)
    assert late.state in ("expired", "depleted") and late.remaining_bytes <= week.remaining_bytes


def test_topup_adds_a_bundle_and_unused_bundles_can_be_revoked(sandbox):
    code = limited_bundle(sandbox)
    iccid = sandbox.create_order(bundle_code=code, quantity=1, reference="o").esims[0].iccid
    result = sandbox.apply_topup(iccid=iccid, bundle_code=BUNDLE, reference="topup:1")
    assert result.status == "completed" and result.cost is not None
    usage = sandbox.get_usage(iccid)
    assert [u.bundle_code for u in usage] == [code, BUNDLE] and usage[1].unlimited
    sandbox.revoke_bundle(iccid=iccid, bundle_code=BUNDLE)
    assert sandbox.get_usage(iccid)[1].state == "revoked"
    with pytest.raises(ProviderNotFound):
        sandbox.revoke_bundle(iccid=iccid, bundle_code=BUNDLE)
    later = datetime.now(UTC) + timedelta(hours=2)
    with time_machine.travel(later), pytest.raises(ProviderRejected):  # in use: no refund
        sandbox.revoke_bundle(iccid=iccid, bundle_code=code)


def test_unknown_things_are_rejected(sandbox):
    with pytest.raises(ProviderRejected):
        sandbox.create_order(bundle_code="nope", quantity=1, reference="o")
    with pytest.raises(ProviderRejected):
        sandbox.create_order(bundle_code=BUNDLE, quantity=11, reference="o")
    with pytest.raises(ProviderNotFound):
        sandbox.get_esim("8944500000000000000")


@pytest.mark.parametrize(
    ("mode", "error"),
    [("429", ProviderRateLimited), ("503", ProviderUnavailable), ("timeout", ProviderTimeout)],
)
def test_fault_modes_raise_transient_errors(sandbox, mode, error):
    sandbox_faults_set(SandboxFaults(mode=mode, retry_after=2))
    with pytest.raises(error) as err:
        sandbox.list_bundles()
    assert err.value.transient
    if mode == "429":
        assert err.value.retry_after == 2


def _outcomes(sandbox: SandboxProvider, n: int) -> list[bool]:
    out = []
    for _ in range(n):
        try:
            sandbox.list_bundles()
            out.append(True)
        except ProviderUnavailable:
            out.append(False)
    return out


def test_error_rate_is_deterministic_for_a_seed(sandbox):
    sandbox_faults_set(SandboxFaults(error_rate=0.3, seed=7))
    first = _outcomes(sandbox, 200)
    sandbox_faults_set(SandboxFaults(error_rate=0.3, seed=7))
    assert _outcomes(sandbox, 200) == first
    failures = first.count(False)
    assert 30 <= failures <= 90  # ~30% of 200
    sandbox_faults_set(SandboxFaults(error_rate=0.3, seed=8))
    assert _outcomes(sandbox, 200) != first


def test_latency_is_injected(sandbox, monkeypatch):
    slept = []
    monkeypatch.setattr("sandbox.provider.time.sleep", slept.append)
    sandbox_faults_set(SandboxFaults(latency=0.25))
    sandbox.list_bundles()
    assert slept == [0.25]


def test_bad_fault_config_is_refused():
    with pytest.raises(ValueError):
        SandboxFaults(mode="explode")
    with pytest.raises(ValueError):
        SandboxFaults(error_rate=1.5)
