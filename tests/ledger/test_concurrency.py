"""Real threads against real PostgreSQL: locks in id order, no deadlocks, no lost cents."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from billing import services
from billing.selectors import vendor_balance
from ledger import services as ledger_services
from ledger.integrity import ledger_integrity_check
from ledger.models import Account, Entry, Hold, Purpose
from ledger.selectors import account_entries_sum
from tests.ledger.factories import fund, platform, prepaid, usd, wallet
from ttelgo.errors import DomainError

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run_concurrently(n: int, fn: Callable[[int], Any], workers: int | None = None) -> list[Any]:
    """Run fn(i) for i in range(n) on `workers` threads released together by a barrier.
    Returns each call's result or the exception it raised."""
    workers = workers or n
    barrier = threading.Barrier(workers)

    def worker(w: int) -> list[Any]:
        out: list[Any] = []
        try:
            barrier.wait(timeout=30)
            for i in range(w, n, workers):
                try:
                    out.append(fn(i))
                except Exception as exc:
                    out.append(exc)
        finally:
            connection.close()
        return out

    with ThreadPoolExecutor(max_workers=workers) as pool:
        chunks = list(pool.map(worker, range(workers)))
    return [r for chunk in chunks for r in chunk]


def _outcome(result: Any) -> str:
    if isinstance(result, DomainError):
        return result.code
    if isinstance(result, Exception):
        return f"{type(result).__name__}: {result}"
    return "ok"


def test_100_concurrent_holds_on_a_wallet_funded_for_10_exactly_10_succeed():
    vendor = prepaid()
    fund(vendor, 10 * 250)
    account = wallet(vendor)

    results = _run_concurrently(
        100,
        lambda i: ledger_services.hold_create(
            account=account, amount=usd(250), reference=f"hold:{i}"
        ),
    )

    outcomes = Counter(_outcome(r) for r in results)
    assert outcomes == {"ok": 10, "insufficient_funds": 90}, outcomes  # no deadlock errors
    account.refresh_from_db()
    assert (account.balance, account.held) == (2_500, 2_500)
    assert vendor_balance(vendor=vendor).available == usd(0)
    assert Hold.objects.filter(status=Hold.Status.PENDING).count() == 10
    assert ledger_integrity_check() == []


def test_32_workers_doing_random_transfers_among_20_wallets_never_lose_a_cent():
    vendors = [prepaid() for _ in range(20)]
    for v in vendors:
        fund(v, 10_000)
    accounts = [wallet(v) for v in vendors]
    clearing = platform(Purpose.STRIPE_CLEARING)
    total_before = sum(a.balance for a in Account.objects.filter(id__in=[a.id for a in accounts]))
    rng = random.Random(20261121)
    plan = [
        (*rng.sample(range(20), 2), rng.randint(1, 3_000)) for _ in range(2_000)
    ]  # (from, to, cents): big enough that some transfers overdraw and must be refused

    def transfer(i: int) -> Any:
        src, dst, cents = plan[i]
        # debit the payer's wallet (liability down), credit the payee's (liability up)
        return ledger_services.ledger_post(
            reference=f"transfer:{i}",
            entries=[(accounts[src], cents), (accounts[dst], -cents)],
            kind="transfer",
        )

    results = _run_concurrently(len(plan), transfer, workers=32)

    outcomes = Counter(_outcome(r) for r in results)
    assert set(outcomes) <= {"ok", "insufficient_funds"}, outcomes
    assert outcomes["ok"] > 1_000
    refreshed = list(Account.objects.filter(id__in=[a.id for a in accounts]))
    assert sum(a.balance for a in refreshed) == total_before == 200_000
    for account in refreshed:
        assert account.balance >= 0
        assert account.balance == account_entries_sum(account=account)
        last = Entry.objects.filter(account=account).order_by("-id").first()
        assert last is not None and last.balance_after == account.balance
    assert Entry.objects.aggregate(s=Sum("amount"))["s"] == 0
    assert Entry.objects.filter(transaction__kind="transfer").count() == 2 * outcomes["ok"]
    assert clearing.id not in {
        e.account_id for e in Entry.objects.filter(transaction__kind="transfer")
    }
    assert ledger_integrity_check() == []


def test_concurrent_capture_and_void_of_one_hold_resolve_it_once():
    vendor = prepaid()
    fund(vendor, 1_000)
    hold = ledger_services.hold_create(account=wallet(vendor), amount=usd(400), reference="race")

    def act(i: int) -> Any:
        h = Hold.objects.get(id=hold.id)
        if i % 2:
            return ledger_services.hold_void(hold=h)
        return ledger_services.hold_capture(hold=h, reference=f"race:capture:{i}")

    results = _run_concurrently(20, act)

    hold.refresh_from_db()
    account = wallet(vendor)
    account.refresh_from_db()
    assert account.held == 0
    if hold.status == Hold.Status.CAPTURED:
        assert account.balance == 600
        assert sum(1 for r in results if _outcome(r) == "ok" and not isinstance(r, Hold)) == 1
    else:
        assert hold.status == Hold.Status.VOIDED and account.balance == 1_000
        assert not any(_outcome(r) == "ok" and not isinstance(r, Hold) for r in results)
    assert {_outcome(r) for r in results} <= {"ok", "invalid_state"}
    assert ledger_integrity_check() == []


def test_the_same_reference_posted_concurrently_posts_once():
    vendor = prepaid()
    results = _run_concurrently(
        16,
        lambda i: services.vendor_wallet_topup_credit(
            vendor=vendor, amount=usd(500), reference="pi_same"
        ),
    )
    assert {_outcome(r) for r in results} == {"ok"}
    assert len({r.id for r in results}) == 1
    assert vendor_balance(vendor=vendor).balance == usd(500)


def test_completions_of_different_vendors_never_wait_on_platform_accounts():
    """Every capture posts to revenue (and the cost to cogs / provider payable); none of
    them locks those rows, so one vendor's completion still open in its transaction does
    not hold up another vendor's (nor an order creation, whose hold points at revenue)."""
    for purpose in (Purpose.REVENUE, Purpose.COGS, Purpose.PROVIDER_PAYABLE):
        platform(purpose)
    first, second = prepaid(), prepaid()
    for n, vendor in enumerate((first, second)):
        fund(vendor, 1_000)
        services.vendor_order_reserve(vendor=vendor, order_id=n + 1, amount=usd(300))
    inside = threading.Event()
    release = threading.Event()

    def open_capture() -> None:
        try:
            with transaction.atomic():
                services.vendor_order_capture(order_id=1, cost=usd(100))
                inside.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=open_capture)
    holder.start()
    try:
        assert inside.wait(timeout=30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            services.vendor_order_capture(order_id=2, cost=usd(100))
            services.vendor_order_reserve(vendor=second, order_id=3, amount=usd(100))
    finally:
        release.set()
        holder.join(timeout=30)
    assert Hold.objects.filter(status=Hold.Status.CAPTURED).count() == 2
    assert ledger_integrity_check() == []
