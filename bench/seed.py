"""Bench data: the catalogue (synced from the fake eSIM Go through the real client), 1,000
active prepaid vendors with funded wallets and API keys, customers, and bulk ledger
history for the growth figures. Runs inside the benchmark process (Django set up with
the production settings, against the throwaway PostgreSQL)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

# Distinct id ranges, so a vendor id can never be mistaken for an account id (or for a
# quantity or a price) when the captured SQL is turned into a pgbench script.
VENDOR_ID_START = 1_000_001
ACCOUNT_ID_START = 2_000_001
WALLET_FUNDS = 1_000_000_000  # $10M in cents per vendor: no run can drain it


@dataclass(frozen=True)
class SeededVendor:
    n: int
    vendor_id: int
    api_key: str


def _setval(table: str, start: int) -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [table, start])


def catalogue_seed() -> int:
    from catalogue.models import Bundle
    from catalogue.services import catalogue_sync

    catalogue_sync()
    return (
        Bundle.objects.filter(is_active=True).count()
        if hasattr(Bundle, "is_active")
        else Bundle.objects.count()
    )


def vendors_seed(count: int) -> list[SeededVendor]:
    """`count` active prepaid vendors through the same services operators use."""
    from billing.services import vendor_wallet_topup_credit
    from ttelgo.money import Money
    from vendors.models import Vendor
    from vendors.services import api_key_issue, vendor_create

    if not Vendor.objects.exists():
        _setval("vendors_vendor", VENDOR_ID_START)
        _setval("ledger_account", ACCOUNT_ID_START)
    seeded: list[SeededVendor] = []
    for n in range(1, count + 1):
        vendor = vendor_create(
            name=f"Bench Vendor {n:04d}",
            billing_mode="prepaid",
            contact_email=f"vendor{n}@bench.test",
            country="GB",
            approve=True,
        )
        _, key = api_key_issue(vendor=vendor, name="bench")
        vendor_wallet_topup_credit(
            vendor=vendor,
            amount=Money(WALLET_FUNDS, vendor.currency),
            reference=f"bench-fund:{vendor.pk}",
        )
        seeded.append(SeededVendor(n=n, vendor_id=vendor.pk, api_key=key))
    return seeded


def vendor_lookup_rows(seeded: list[SeededVendor]) -> list[dict[str, Any]]:
    """Per vendor, every value of its own that a request can carry into SQL."""
    from ledger.models import Account
    from vendors.models import Vendor, VendorAPIKey

    vendors = Vendor.objects.in_bulk([s.vendor_id for s in seeded])
    keys = {k.vendor_id: k for k in VendorAPIKey.objects.filter(vendor_id__in=vendors)}
    accounts: dict[tuple[int | None, str], int] = {
        (a.holder, a.purpose): a.pk for a in Account.objects.filter(holder__in=list(vendors))
    }
    rows = []
    for s in seeded:
        vendor, key = vendors[s.vendor_id], keys[s.vendor_id]
        rows.append(
            {
                "n": s.n,
                "id": vendor.pk,
                "name": vendor.name,
                "email": vendor.contact_email,
                "key_id": key.pk,
                "prefix": key.prefix,
                "hashed_key": key.hashed_key,
                "wallet": accounts.get((vendor.pk, "wallet"), 0),
            }
        )
    return rows


def bench_vendor_table(rows: list[dict[str, Any]]) -> None:
    """`bench_vendor(n, ...)`: the row pgbench picks per transaction (n = 1..1000)."""
    cols = list(rows[0])
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_vendor")
        cur.execute(
            "CREATE TABLE bench_vendor ("
            + ", ".join(f"{c} {'int PRIMARY KEY' if c == 'n' else 'text'}" for c in cols)
            + ")"
        )
        cur.executemany(
            f"INSERT INTO bench_vendor ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
            [[r[c] if c == "n" else str(r[c]) for c in cols] for r in rows],
        )


def customers_seed(count: int) -> list[Any]:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    return [
        user_model.objects.create_user(
            email=f"customer{i}@bench.test", password=f"bench-pass-{i}-x1!"
        )  # type: ignore[attr-defined]
        for i in range(count)
    ]


# --- ledger growth --------------------------------------------------------------------------

GROWTH_SQL = """
WITH tx AS (
    INSERT INTO ledger_transaction (id, reference, kind, description, order_id, created_at, metadata)
    SELECT %(tx0)s + g, 'bench-history:' || (%(tx0)s + g), 'adjustment', 'Bench history',
           NULL, now() - interval '400 days' + g * interval '1 second', '{}'::jsonb
      FROM generate_series(1, %(count)s) AS g
    RETURNING id
), legs AS (
    SELECT t.id AS txn, g.leg,
           CASE WHEN g.leg = 0 THEN %(counter)s
                WHEN t.id %% 5 = 0 THEN %(hot)s
                ELSE (%(wallets)s::bigint[])[1 + (t.id %% array_length(%(wallets)s::bigint[], 1))]
           END AS account,
           (100 + t.id %% 900) * CASE WHEN g.leg = 0 THEN 1 ELSE -1 END AS amount
      FROM tx t CROSS JOIN (VALUES (0), (1)) AS g(leg)
), numbered AS (
    SELECT l.*, %(e0)s + row_number() OVER (ORDER BY l.txn, l.leg) AS id FROM legs l
)
INSERT INTO ledger_entry (id, transaction_id, account_id, amount, balance_after, created_at)
SELECT n.id, n.txn, n.account, n.amount,
       a.balance + CASE WHEN a.normal = 'debit' THEN 1 ELSE -1 END
                   * sum(n.amount) OVER (PARTITION BY n.account ORDER BY n.id),
       now()
  FROM numbered n JOIN ledger_account a ON a.id = n.account
"""

APPLY_BALANCES_SQL = """
UPDATE ledger_account a
   SET balance = a.balance + CASE WHEN a.normal = 'debit' THEN d.total ELSE -d.total END
  FROM (SELECT account_id, sum(amount) AS total FROM ledger_entry WHERE id > %(e0)s GROUP BY account_id) d
 WHERE a.id = d.account_id
"""

CHECK_SQL = """
SELECT
  (SELECT count(*) FROM (SELECT transaction_id FROM ledger_entry WHERE id > %(e0)s
                          GROUP BY transaction_id HAVING sum(amount) <> 0) u) AS unbalanced,
  (SELECT count(*) FROM ledger_account a
     LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_entry GROUP BY account_id) t
            ON t.account_id = a.id
    WHERE a.balance <> CASE WHEN a.normal = 'debit' THEN 1 ELSE -1 END * coalesce(t.total, 0)
  ) AS drifted
"""


def ledger_history_grow(*, target_entries: int, hot_vendor_id: int, batch: int = 100_000) -> float:
    """Bring `ledger_entry` to `target_entries` rows with balanced two-leg transactions
    (platform adjustments account +, vendor wallet -: 20 % on the hot vendor, the rest
    spread over every wallet). Seconds taken.

    The ledger's row triggers would take the hot account's row lock once per entry, so the
    rows are written with triggers off (session_replication_role = replica) but with the
    values those triggers compute: `balance_after` is the running balance per account in id
    order and the accounts' cached balances move by the same sums. The same invariants the
    triggers guard are then checked in SQL; a failure stops the benchmark. The tables are
    then vacuumed and analysed, as a production database's would be."""
    from ledger.models import Account, Entry
    from ledger.services import platform_account

    started = time.monotonic()
    counter = platform_account("adjustments", "USD").pk
    hot = Account.objects.get(holder=hot_vendor_id, purpose="wallet").pk
    wallets = list(Account.objects.filter(purpose="wallet").values_list("pk", flat=True))
    while (have := Entry.objects.count()) < target_entries:
        count = min(batch, (target_entries - have + 1) // 2)
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute("SELECT coalesce(max(id), 0) FROM ledger_transaction")
            tx0 = cur.fetchone()[0]
            cur.execute("SELECT coalesce(max(id), 0) FROM ledger_entry")
            e0 = cur.fetchone()[0]
            params = {
                "tx0": tx0,
                "e0": e0,
                "count": count,
                "counter": counter,
                "hot": hot,
                "wallets": wallets,
            }
            cur.execute(GROWTH_SQL, params)
            cur.execute(APPLY_BALANCES_SQL, params)
            cur.execute("SELECT setval('ledger_transaction_id_seq', %s)", [tx0 + count])
            cur.execute("SELECT setval('ledger_entry_id_seq', %s)", [e0 + 2 * count])
            cur.execute(CHECK_SQL, params)
            unbalanced, drifted = cur.fetchone()
            if unbalanced or drifted:
                raise RuntimeError(
                    f"bulk ledger seed broke invariants: {unbalanced} unbalanced, {drifted} drifted"
                )
    # VACUUM as well as ANALYZE: otherwise autovacuum starts on the freshly inserted rows
    # while the next figures are being measured (seen as a 2x order p50 in one run).
    with connection.cursor() as cur:
        for table in ("ledger_entry", "ledger_transaction", "ledger_account"):
            cur.execute(f"VACUUM (ANALYZE) {table}")
    return time.monotonic() - started
