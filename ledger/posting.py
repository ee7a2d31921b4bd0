"""The posting core: accounts, balanced transactions and two-phase holds.

Who enforces what:
* PostgreSQL (migration 0002): entries and transactions are immutable, every transaction
  balances per currency at commit (deferred constraint trigger), `Account.balance`,
  `Entry.balance_after` and `Account.held` are written only by triggers on entry/hold
  rows, and the CHECK constraints on `ledger_account` refuse any balance or hold beyond
  the account's floor/ceiling.
* SQLite (embedded default) has the CHECK constraints but no triggers: there this module
  updates the cached balance/held itself, and the balance and bound checks below are the
  only guard. They run on PostgreSQL too, so callers get a precise `DomainError` instead
  of an IntegrityError.

The lock order, for everything that touches the ledger (`ledger_lock`, the one place):
holds first, then accounts, each in primary-key order, `FOR NO KEY UPDATE` (a balance
change is not a key change, so the `FOR KEY SHARE` of a foreign-key check on an account
or hold never waits for it). Only accounts that cache a balance are locked: platform
accounts keep none (see `ledger/models.py`), so no posting locks a row that every order
on the platform would share. Callers that lock rows of their own (an order, a payment)
lock them before calling in here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from ledger.models import (
    CHART,
    NORMAL_SIDE,
    Account,
    Entry,
    Hold,
    NormalSide,
    Owner,
    Purpose,
    Transaction,
)
from ttelgo import sql
from ttelgo.errors import DomainError
from ttelgo.metrics import LEDGER_POSTINGS, count_on_commit
from ttelgo.money import Money


def _db_enforces() -> bool:
    """True where migration 0002's triggers maintain balances and holds."""
    return connection.vendor == "postgresql"


# --- accounts ---------------------------------------------------------------------------


def account_get_or_create(
    *,
    purpose: str,
    currency: str,
    holder: int | None = None,
    ceiling: int | None = None,
    livemode: bool = True,
) -> Account:
    """The account for (holder, purpose, currency), created on first use. `holder` is the
    owner's key for an owned account (a vendor's id), None for a platform account;
    `ceiling` bounds a new receivable (the vendor's credit limit). `livemode=False` is
    test mode's set (play money), kept apart from the live books."""
    if purpose not in CHART:
        raise DomainError("validation_error", f"unknown account purpose {purpose!r}")
    owner, acc_type = CHART[purpose]
    if (owner == Owner.PLATFORM) != (holder is None):
        raise DomainError("validation_error", f"account purpose {purpose!r} is for owner {owner!r}")
    Money(0, currency)  # validates the code
    account = account_find(purpose=purpose, currency=currency, holder=holder, livemode=livemode)
    if account is not None:
        return account
    lookup: dict[str, Any] = {
        "purpose": purpose,
        "currency": currency,
        "holder": holder,
        "livemode": livemode,
    }
    defaults: dict[str, Any] = {
        "owner": owner,
        "type": acc_type,
        "normal": NORMAL_SIDE[acc_type],
    }
    if owner == Owner.PLATFORM:
        defaults["balance"] = None  # no cached balance: see ledger/models.py
    elif purpose == Purpose.WALLET:
        defaults["floor"] = 0
    elif purpose == Purpose.RECEIVABLE:
        defaults["ceiling"] = ceiling if ceiling is not None else 0
    try:
        with transaction.atomic():
            return Account.objects.create(**lookup, **defaults)
    except IntegrityError:
        # created concurrently: the unique constraint decided, take the winner's row
        return Account.objects.get(**lookup)


def account_find(
    *, purpose: str, currency: str, holder: int | None = None, livemode: bool = True
) -> Account | None:
    """The account for (holder, purpose, currency), or None if it was never opened. A
    holder's accounts are its own whatever the mode; platform accounts come per mode."""
    # On every order and posting: a hand-written statement (ttelgo/sql.py).
    if holder is not None:
        owner, params = "a.holder = %s", [purpose, currency, holder]
    else:
        owner, params = "a.holder IS NULL AND a.livemode = %s", [purpose, currency, livemode]
    return sql.select_one(
        [(Account, "a")], f"WHERE a.purpose = %s AND a.currency = %s AND {owner}", params
    )


def ledger_lock(
    *, holds: Iterable[int] = (), accounts: Iterable[int] = ()
) -> tuple[dict[int, Hold], dict[int, Account]]:
    """Lock the ledger rows a change is about to touch, in the ledger's one lock order:
    holds, then accounts, each by primary key, `FOR NO KEY UPDATE`. Accounts that keep no
    cached balance (platform accounts) are returned unlocked: nothing writes their row.
    Call it again inside the same transaction only for rows after those already locked."""
    locked_holds: dict[int, Hold] = {}
    hold_ids = sorted(set(holds))
    if hold_ids:
        rows = sql.select(
            [(Hold, "h")],
            f"WHERE h.id IN ({', '.join(['%s'] * len(hold_ids))})"
            f" ORDER BY h.id{sql.for_no_key_update()}",
            hold_ids,
        )
        locked_holds = {h.id: h for (h,) in rows}
        if len(locked_holds) != len(hold_ids):
            raise DomainError("not_found", "ledger hold not found")
    wanted = sorted(set(accounts))
    if not wanted:
        return locked_holds, {}
    # Only rows that cache a balance qualify for the lock; platform rows are read plainly.
    cached = sql.select(
        [(Account, "a")],
        f"WHERE a.id IN ({', '.join(['%s'] * len(wanted))}) AND a.balance IS NOT NULL"
        f" ORDER BY a.id{sql.for_no_key_update()}",
        wanted,
    )
    found = {a.id: a for (a,) in cached}
    rest = [i for i in wanted if i not in found]
    if rest:
        plain = sql.select(
            [(Account, "a")], f"WHERE a.id IN ({', '.join(['%s'] * len(rest))})", rest
        )
        found.update({a.id: a for (a,) in plain})
    if len(found) != len(wanted):
        raise DomainError("not_found", "ledger account not found")
    return locked_holds, found


def accounts_lock(ids: Iterable[int]) -> dict[int, Account]:
    """`ledger_lock` for accounts only."""
    return ledger_lock(accounts=ids)[1]


def _check_bounds(account: Account, *, balance: int, held: int) -> None:
    """Mirror of the CHECK constraints, raised as the API's codes."""
    refusal = _bounds_refusal(account, balance=balance, held=held)
    if refusal is not None:
        raise refusal


def _bounds_refusal(account: Account, *, balance: int, held: int) -> DomainError | None:
    """The refusal, if moving `account` to (balance, held) would cross its bound. The
    details say how far off the caller is: what was available before, what the change
    needs, and the shortfall between them."""
    if account.balance is None:
        return None  # platform accounts carry no bound
    # Pending debits lower a credit-normal balance and raise a debit-normal one.
    credit = account.normal == NormalSide.CREDIT
    if account.floor is not None:
        before = account.balance - (account.held if credit else 0) - account.floor
        after = balance - (held if credit else 0) - account.floor
        if after < 0:
            return _refusal(account, "insufficient_funds", "Insufficient funds.", before, after)
    if account.ceiling is not None:
        before = account.ceiling - account.balance - (0 if credit else account.held)
        after = account.ceiling - balance - (0 if credit else held)
        if after < 0:
            return _refusal(
                account,
                "credit_limit_exceeded",
                "The credit limit would be exceeded.",
                before,
                after,
            )
    return None


def _refusal(account: Account, code: str, message: str, before: int, after: int) -> DomainError:
    currency = account.currency
    return DomainError(
        code,
        message,
        details={
            "available": Money(before, currency).to_api(),
            "required": Money(before - after, currency).to_api(),
            "shortfall": Money(-after, currency).to_api(),
        },
    )


# --- posting ----------------------------------------------------------------------------


def _legs(entries: Sequence[tuple[Account, int]]) -> tuple[dict[int, int], dict[int, str]]:
    """Merge legs per account and check each currency sums to zero."""
    net: dict[int, int] = defaultdict(int)
    currency_of: dict[int, str] = {}
    for account, amount in entries:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise DomainError("validation_error", "entry amounts are int minor units")
        net[account.id] += amount
        currency_of[account.id] = account.currency
    legs = {acc_id: amt for acc_id, amt in net.items() if amt != 0}
    if not legs:
        raise DomainError("validation_error", "a transaction needs non-zero entries")
    per_currency: dict[str, int] = defaultdict(int)
    for acc_id, amt in legs.items():
        per_currency[currency_of[acc_id]] += amt
    unbalanced = {cur: total for cur, total in per_currency.items() if total != 0}
    if unbalanced:
        raise DomainError(
            "validation_error", "entries must sum to zero per currency", details=unbalanced
        )
    return legs, currency_of


def _transaction_create(
    *,
    reference: str,
    kind: str,
    description: str,
    order_id: int | None,
    actor: Any,
    metadata: dict[str, Any] | None,
) -> tuple[Transaction, bool]:
    """Insert the transaction row; the unique reference makes a concurrent twin lose."""
    if not reference or len(reference) > 255:
        raise DomainError("validation_error", "reference must be 1-255 characters")
    txn = Transaction(
        reference=reference,
        kind=kind,
        description=description[:500],
        order_id=order_id,
        actor=actor,
        metadata=metadata or {},
    )
    # One statement, no savepoint: a twin already there is skipped, not an error.
    if sql.insert_or_skip(txn):
        return txn, True
    return Transaction.objects.get(reference=reference), False


def _entries_write(
    *, txn: Transaction, legs: dict[int, int], locked: dict[int, Account] | None = None
) -> list[Entry]:
    """Write a transaction's entries. `locked`: the accounts as just locked by the caller;
    without it they are (re-)locked and re-read, e.g. after a hold changed `held`."""
    accounts = locked if locked is not None else accounts_lock(legs)
    rows = []
    for acc_id in sorted(legs):
        account = accounts[acc_id]
        balance: int | None = None
        if account.balance is not None:
            balance = account.balance + account.sign * legs[acc_id]
            _check_bounds(account, balance=balance, held=account.held)
        rows.append(
            Entry(transaction=txn, account=account, amount=legs[acc_id], balance_after=balance)
        )
    # One INSERT statement for all legs, so the balance trigger sees them together.
    Entry.objects.bulk_create(rows)
    if not _db_enforces():
        for row in rows:
            if row.balance_after is not None:
                Account.objects.filter(id=row.account_id).update(balance=row.balance_after)
    return rows


def _post(
    *,
    reference: str,
    entries: Sequence[tuple[Account, int]],
    kind: str,
    description: str = "",
    order_id: int | None = None,
    actor: Any = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[Transaction, bool]:
    legs, currency_of = _legs(entries)
    with transaction.atomic():
        existing = Transaction.objects.filter(reference=reference).first()
        if existing is not None:
            return existing, False
        accounts = accounts_lock(legs)
        for acc_id, account in accounts.items():
            if account.currency != currency_of[acc_id]:
                raise DomainError("validation_error", "entry currency differs from its account")
        txn, created = _transaction_create(
            reference=reference,
            kind=kind,
            description=description,
            order_id=order_id,
            actor=actor,
            metadata=metadata,
        )
        if created:
            _entries_write(txn=txn, legs=legs, locked=accounts)
            count_on_commit(LEDGER_POSTINGS.labels(kind=kind))
        return txn, created


def ledger_post(
    *,
    reference: str,
    entries: Sequence[tuple[Account, int]],
    kind: str,
    description: str = "",
    order_id: int | None = None,
    actor: Any = None,
    metadata: dict[str, Any] | None = None,
) -> Transaction:
    """Post one balanced transaction. `entries` are (account, signed minor units), debit
    positive / credit negative. Idempotent on `reference`: a repeat returns the first
    transaction and posts nothing."""
    txn, _ = _post(
        reference=reference,
        entries=entries,
        kind=kind,
        description=description,
        order_id=order_id,
        actor=actor,
        metadata=metadata,
    )
    return txn


# --- holds ------------------------------------------------------------------------------


def _positive(amount: Money, currency: str) -> int:
    if amount.currency != currency:
        raise DomainError(
            "validation_error", f"amount is in {amount.currency}, the account in {currency}"
        )
    if amount.amount <= 0:
        raise DomainError("validation_error", "amount must be greater than zero")
    return amount.amount


def hold_create(
    *,
    account: Account,
    amount: Money,
    reference: str,
    order_id: int | None = None,
    counter_account: Account | None = None,
) -> Hold:
    """Reserve a pending debit of `account` (captured later into `counter_account`,
    revenue by default). Idempotent on `reference`.

    No savepoint (this is on every vendor order): the account is locked first, so no other
    hold on it can appear while the reference and the one-pending-hold-per-order rule are
    checked; and a refusal is raised after the block, so a caller's transaction stays
    usable."""
    value = _positive(amount, account.currency)
    counter = counter_account or account_get_or_create(
        purpose=Purpose.REVENUE, currency=account.currency
    )
    if counter.currency != account.currency or counter.id == account.id:
        raise DomainError("validation_error", "bad counter account for the hold")
    refusal: DomainError | None = None
    with transaction.atomic(savepoint=False):
        locked = accounts_lock([account.id])[account.id]
        existing = _hold_find(reference=reference, order_id=order_id)
        if existing is not None:
            if existing.reference == reference:
                return existing
            refusal = DomainError("invalid_state", "this order already has an open reservation")
        else:
            refusal = _bounds_refusal(
                locked, balance=locked.cached_balance, held=locked.held + value
            )
        if refusal is None:
            hold = sql.insert(
                Hold(
                    account=locked,
                    counter_account=counter,
                    amount=value,
                    reference=reference,
                    order_id=order_id,
                )
            )
            if not _db_enforces():
                Account.objects.filter(id=locked.id).update(held=F("held") + value)
            locked.held += value  # what the trigger (or the update above) just wrote
    if refusal is not None:
        raise refusal
    return hold


def _hold_find(*, reference: str, order_id: int | None) -> Hold | None:
    """The hold under `reference`, else the order's pending hold (one statement)."""
    return sql.select_one(
        [(Hold, "h")],
        "WHERE h.reference = %s OR (h.order_id = %s AND h.status = %s)"
        " ORDER BY h.reference = %s DESC LIMIT 1",
        [reference, order_id, Hold.Status.PENDING, reference],
    )


def _hold_lock(hold: Hold) -> Hold:
    return ledger_lock(holds=[hold.id])[0][hold.id]


def hold_capture(
    *,
    hold: Hold,
    amount: Money | None = None,
    reference: str,
    kind: str = Transaction.Kind.HOLD_CAPTURE,
    description: str = "",
    metadata: dict[str, Any] | None = None,
    actor: Any = None,
) -> Transaction:
    """Post a pending hold (all of it, or `amount` of it; the rest is released).
    Exactly once: a repeat with the same reference returns the same transaction; a
    voided hold, or a hold captured under another reference, is `invalid_state`."""
    with transaction.atomic():
        locked = _hold_lock(hold)
        if locked.status == Hold.Status.CAPTURED:
            txn = locked.capture_transaction
            if txn is not None and txn.reference == reference:
                return txn
            raise DomainError("invalid_state", "the hold is already captured")
        if locked.status == Hold.Status.VOIDED:
            raise DomainError("invalid_state", "the hold was voided")
        accounts = accounts_lock([locked.account_id, locked.counter_account_id])
        account = accounts[locked.account_id]
        value = locked.amount if amount is None else _positive(amount, account.currency)
        if value > locked.amount:
            raise DomainError("validation_error", "cannot capture more than the hold")
        txn, created = _transaction_create(
            reference=reference,
            kind=kind,
            description=description,
            order_id=locked.order_id,
            actor=actor,
            metadata=metadata,
        )
        if not created:
            raise DomainError("invalid_state", f"reference {reference!r} is already used")
        # Release the reservation first, then post: never both counted at once.
        changed = Hold.objects.filter(id=locked.id, status=Hold.Status.PENDING).update(
            status=Hold.Status.CAPTURED,
            captured_amount=value,
            capture_transaction=txn,
            resolved_at=timezone.now(),
        )
        if changed != 1:  # pragma: no cover - the row lock above makes this unreachable
            raise DomainError("invalid_state", "the hold changed concurrently")
        if not _db_enforces():
            Account.objects.filter(id=account.id).update(held=F("held") - locked.amount)
        account.held -= locked.amount  # what the trigger (or the update above) released
        _entries_write(
            txn=txn, legs={account.id: value, locked.counter_account_id: -value}, locked=accounts
        )
    hold.refresh_from_db()
    return txn


def hold_void(*, hold: Hold) -> Hold:
    """Release a pending hold. Voiding twice is a no-op; a captured hold is `invalid_state`."""
    with transaction.atomic():
        locked = _hold_lock(hold)
        if locked.status == Hold.Status.VOIDED:
            return locked
        if locked.status == Hold.Status.CAPTURED:
            raise DomainError("invalid_state", "the hold is already captured")
        accounts_lock([locked.account_id])
        Hold.objects.filter(id=locked.id, status=Hold.Status.PENDING).update(
            status=Hold.Status.VOIDED, resolved_at=timezone.now()
        )
        if not _db_enforces():
            Account.objects.filter(id=locked.account_id).update(held=F("held") - locked.amount)
        locked.refresh_from_db()
    hold.refresh_from_db()
    return locked


# What billing (vendor money flows) posts with.
post = _post
positive = _positive
