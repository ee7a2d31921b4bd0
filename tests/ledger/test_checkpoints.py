"""Balance checkpoints: the trial balance and the integrity check read the entries since
the last checkpoint, so their cost stays put while the ledger grows (issue 34)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from ledger import services as ledger_services
from ledger.checkpoints import ledger_checkpoint_advance
from ledger.integrity import ledger_integrity_check
from ledger.models import Account, AccountCheckpoint, Entry, LedgerCheckpoint
from ledger.selectors import account_balance, platform_balances, trial_balance
from tests.factories import VendorFactory
from tests.ledger.factories import fund, prepaid, usd

NOW = timedelta(0)  # fold everything written so far (the beat waits for it to settle)


def _grow(vendor, n: int, start: int) -> None:
    """n B2C payments (platform legs) and n vendor top-ups: 4n entries."""
    for i in range(start, start + n):
        ledger_services.b2c_payment_captured(amount=usd(100 + i), reference=f"pi_{i}")
        fund(vendor, 10 + i, reference=f"topup:{i}")


def _full_sums() -> dict[int, int]:
    sums: dict[int, int] = {}
    for account_id, amount in Entry.objects.values_list("account_id", "amount"):
        sums[account_id] = sums.get(account_id, 0) + amount
    return sums


@pytest.mark.django_db
def test_balances_from_checkpoints_equal_the_sums_of_every_entry():
    vendor = prepaid()
    _grow(vendor, 5, 0)
    checkpoint = ledger_checkpoint_advance(settle=NOW)
    assert checkpoint is not None and checkpoint.entries_folded == Entry.objects.count()
    _grow(vendor, 3, 100)  # the tail after the checkpoint
    truth = _full_sums()
    platform = platform_balances()
    assert platform and all(platform[a] == truth.get(a, 0) for a in platform)
    assert ledger_integrity_check() == []
    assert ledger_integrity_check(full=True) == []
    tb = trial_balance()
    assert all(debit == credit for debit, credit in tb.totals.values())
    revenue = Account.objects.get(holder__isnull=True, purpose="revenue", livemode=True)
    assert account_balance(account=revenue).amount == -truth[revenue.id]
    # Nothing new: no checkpoint; a second one folds only the tail.
    second = ledger_checkpoint_advance(settle=NOW)
    assert second is not None and second.entries_folded == 12
    assert ledger_checkpoint_advance(settle=NOW) is None
    assert platform_balances() == platform


@pytest.mark.django_db
def test_only_entries_older_than_the_settle_time_are_folded():
    vendor = prepaid()
    _grow(vendor, 2, 0)
    assert ledger_checkpoint_advance() is None  # written just now
    assert not AccountCheckpoint.objects.exists()


@pytest.mark.django_db
def test_a_checkpoint_total_that_drifted_is_reported():
    vendor = prepaid()
    _grow(vendor, 2, 0)
    ledger_checkpoint_advance(settle=NOW)
    wallet = Account.objects.get(holder=vendor.id, purpose="wallet")
    AccountCheckpoint.objects.filter(account=wallet).update(total=-1)
    assert sorted(f.code for f in ledger_integrity_check()) == [
        "balance_after_mismatch",
        "balance_mismatch",
    ]
    assert ledger_integrity_check(full=True) == []  # the entries themselves are intact


def _reads(fn) -> tuple[int, int]:
    """(queries, ledger_entry rows read) of fn(). Rows read are PostgreSQL's counters for
    this transaction; with sequential scans off the planner reads as at production size
    (a test table this small would be read whole whatever the query), on fresh statistics."""
    with connection.cursor() as cur:
        cur.execute("ANALYZE ledger_entry")
        cur.execute("ANALYZE ledger_transaction")
        cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)"
            " FROM pg_stat_xact_user_tables WHERE relname = 'ledger_entry'"
        )
        before = cur.fetchone()[0]
    with CaptureQueriesContext(connection) as ctx:
        fn()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)"
            " FROM pg_stat_xact_user_tables WHERE relname = 'ledger_entry'"
        )
        after = cur.fetchone()[0]
    return len(ctx.captured_queries), after - before


@pytest.mark.django_db
@pytest.mark.parametrize("read", ["trial_balance", "integrity"])
def test_the_same_queries_at_n_and_3n_entries(read):
    fn = trial_balance if read == "trial_balance" else ledger_integrity_check
    vendor = prepaid()
    _grow(vendor, 10, 0)
    ledger_checkpoint_advance(settle=NOW)
    _grow(vendor, 2, 1000)
    with CaptureQueriesContext(connection) as small:
        fn()
    _grow(vendor, 20, 2000)
    ledger_checkpoint_advance(settle=NOW)
    _grow(vendor, 2, 3000)
    with CaptureQueriesContext(connection) as large:
        fn()
    assert len(small.captured_queries) == len(large.captured_queries)


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("read", ["trial_balance", "integrity"])
def test_rows_read_follow_the_tail_not_the_ledger(read):
    """At N and 3N entries, with the same tail since the last checkpoint, the trial balance
    and the integrity check read about the same number of entry rows, far fewer than the
    ledger holds (they read every entry before: N, then 3N)."""
    fn = trial_balance if read == "trial_balance" else ledger_integrity_check
    vendor = prepaid()
    VendorFactory.create_batch(2)
    _grow(vendor, 30, 0)  # 120 entries
    ledger_checkpoint_advance(settle=NOW)
    _grow(vendor, 2, 1000)
    n = Entry.objects.count()
    small = _reads(fn)
    _grow(vendor, 63, 2000)  # 3N
    ledger_checkpoint_advance(settle=NOW)
    _grow(vendor, 2, 3000)
    large = _reads(fn)
    assert Entry.objects.count() >= 3 * n
    assert small[0] == large[0], f"queries: N {small[0]}, 3N {large[0]}"
    # The tail (8 entries), its transactions' legs and one last entry per account; the
    # exact count moves a little with the planner's choices, never with the ledger.
    assert small[1] < n / 2 and large[1] < n / 2, f"rows read: N {small[1]}, 3N {large[1]} of {n}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_advances_at_once_fold_each_entry_once():
    vendor = prepaid()
    _grow(vendor, 5, 0)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def advance() -> None:
        try:
            barrier.wait()
            ledger_checkpoint_advance(settle=NOW)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=advance) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert LedgerCheckpoint.objects.count() == 1
    truth = _full_sums()
    totals = dict(AccountCheckpoint.objects.values_list("account_id", "total"))
    assert totals == truth
    assert ledger_integrity_check() == []
