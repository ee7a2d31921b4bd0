"""Stock refill and ageing on real PostgreSQL connections: runs started at once (threads,
each with its own connection, the provider slow enough that their calls overlap) buy each
shortfall once and give each eSIM back once, and the ledger books each once."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from fulfilment.stock.ageing import stock_age_run
from fulfilment.stock.models import StockBatch, StockEsim
from fulfilment.stock.refill import stock_refill_run
from ledger.integrity import ledger_integrity_check
from ledger.models import Transaction
from sandbox.models import SandboxBundleAssignment, SandboxOrder
from sandbox.provider import SandboxFaults, SandboxProvider, sandbox_faults_set
from tests.fulfilment.stock_helpers import stock_setting
from tests.orders.factories import bundles_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _at_once(n: int, call: Callable[[], Any]) -> list[Any]:
    start = threading.Barrier(n, timeout=30)
    results: list[Any] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            start.wait()
            result: Any = call()
        except BaseException as exc:
            result = exc
        finally:
            connection.close()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return results


def test_refill_runs_at_once_buy_each_shortfall_once():
    bundles_create()
    stock_setting(floor=10, target=25, capital_cap=100_000)
    # Every provider call takes 0.2 s: the runs' purchases overlap in time.
    sandbox_faults_set(SandboxFaults(processing_seconds=0, latency=0.2))

    reports = _at_once(4, lambda: stock_refill_run(sleep=lambda s: None))

    assert sum(r.bought for r in reports) == 25
    assert sorted(SandboxOrder.objects.values_list("quantity", flat=True)) == [5, 10, 10]
    assert StockBatch.objects.count() == 3  # planned once, by one of the runs
    assert StockEsim.objects.count() == 25
    assert Transaction.objects.filter(kind=Transaction.Kind.STOCK_PURCHASE).count() == 3
    assert ledger_integrity_check() == []


def test_ageing_runs_at_once_give_each_esim_back_once(monkeypatch):
    bundles_create()
    stock_setting(floor=4, target=4, capital_cap=100_000)
    sandbox_faults_set(SandboxFaults(processing_seconds=0))
    stock_refill_run(sleep=lambda s: None)
    StockEsim.objects.update(purchased_at=timezone.now() - timedelta(days=58))
    calls: list[str] = []
    real = SandboxProvider.revoke_bundle

    def counted(self: SandboxProvider, *, iccid: str, bundle_code: str) -> None:
        calls.append(iccid)
        real(self, iccid=iccid, bundle_code=bundle_code)

    monkeypatch.setattr(SandboxProvider, "revoke_bundle", counted)
    sandbox_faults_set(SandboxFaults(processing_seconds=0, latency=0.1))

    reports = _at_once(4, stock_age_run)

    assert sorted(i for r in reports for i in r.revoked) == sorted(
        StockEsim.objects.values_list("pk", flat=True)
    )
    assert sorted(calls) == sorted(StockEsim.objects.values_list("iccid", flat=True))  # once each
    assert SandboxBundleAssignment.objects.filter(revoked=True).count() == 4
    assert Transaction.objects.filter(kind=Transaction.Kind.STOCK_REFUND_DUE).count() == 4
    assert ledger_integrity_check() == []


# --- the spacing between refill orders holds across runs and processes ---------------------


def test_overlapping_refill_runs_space_their_orders_across_runs(monkeypatch, settings):
    """Four runs at once place the shortfall's 3 orders: each order waits for its own slot
    in Redis, 3 s after the one before whichever run placed it (before, each run spaced
    only its own orders: three runs placing one order each waited for none)."""
    from fulfilment.stock import spacing

    assert settings.REDIS_URL  # the shared slots live in Redis
    settings.STOCK_REFILL_SPACING_SECONDS = 3.0
    bundles_create()
    stock_setting(floor=10, target=25, capital_cap=100_000)
    sandbox_faults_set(SandboxFaults(processing_seconds=0, latency=0.2))
    slots: list[spacing.Slot] = []
    waits: list[float] = []
    lock = threading.Lock()
    real_claim = spacing.order_slot_claim

    def recorded(**kwargs: Any) -> spacing.Slot:
        slot = real_claim(**kwargs)
        with lock:
            slots.append(slot)
        return slot

    def sleep(seconds: float) -> None:  # the wait is recorded, not slept
        with lock:
            waits.append(seconds)

    monkeypatch.setattr(spacing, "order_slot_claim", recorded)
    reports = _at_once(4, lambda: stock_refill_run(sleep=sleep))

    assert sum(r.bought for r in reports) == 25
    assert SandboxOrder.objects.count() == 3
    assert len(slots) == 3 and all(s.shared for s in slots)
    at = sorted(s.at for s in slots)
    assert at[1] - at[0] >= 3.0 - 1e-6 and at[2] - at[1] >= 3.0 - 1e-6
    # The first order waits for nothing; the others until their slots (the claims are a
    # fraction of a second apart: the provider answers in 0.2 s).
    assert sorted(waits) == [pytest.approx(3.0, abs=1.5), pytest.approx(6.0, abs=1.5)]


def _claims(url: str, count: int, out: Any) -> None:
    from fulfilment.stock.spacing import order_slot_claim

    for _ in range(count):
        slot = order_slot_claim(provider="esimgo", livemode=True, spacing=0.5, redis_url=url)
        out.put((slot.at, slot.shared))


def test_order_slots_claimed_by_processes_at_once_are_each_a_spacing_apart(settings):
    """Four processes claiming three slots each on one Redis: twelve distinct slots, every
    two at least the spacing apart (one Lua script claims each: no two share a slot)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    out: Any = ctx.Queue()
    connection.close()  # the children never use the parent's database connection
    procs = [ctx.Process(target=_claims, args=(settings.REDIS_URL, 3, out)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [out.get(timeout=30) for _ in range(12)]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert all(shared for _, shared in got)
    at = sorted(a for a, _ in got)
    assert all(b - a >= 0.5 - 1e-6 for a, b in itertools.pairwise(at))
