"""Stock refill and ageing on real PostgreSQL connections: runs started at once (threads,
each with its own connection, the provider slow enough that their calls overlap) buy each
shortfall once and give each eSIM back once, and the ledger books each once."""

from __future__ import annotations

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
