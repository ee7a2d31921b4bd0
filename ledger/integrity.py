"""Ledger integrity check for reconciliation: reports findings, never fixes anything.

It reads the entries after the last balance checkpoint (`ledger/checkpoints.py`), which
checked and folded the ones before it, so its cost follows the tail, not the ledger;
`full=True` reads every entry as if there were no checkpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ledger.models import Account, Entry, Hold, NormalSide, Transaction

DEFAULT_MAX_HOLD_AGE = timedelta(hours=24)


@dataclass(frozen=True)
class Finding:
    code: str  # unbalanced_transaction | empty_transaction | balance_mismatch | ...
    message: str
    object_type: str
    object_id: int
    details: dict[str, Any] = field(default_factory=dict)


def unbalanced_transactions(
    *, entries_after: int = 0, entries_through: int | None = None
) -> list[Finding]:
    """Transactions with an entry in (entries_after, entries_through] whose entries (all
    of them) do not sum to zero per currency."""
    entries = Entry.objects.all()
    if entries_after:
        in_range = Entry.objects.filter(id__gt=entries_after)
        if entries_through is not None:
            in_range = in_range.filter(id__lte=entries_through)
        # The range's transactions first (a range scan of the primary key), then their
        # entries by transaction: a subquery here lets the planner walk every entry.
        txn_ids = sorted(set(in_range.values_list("transaction_id", flat=True)))
        entries = entries.filter(transaction_id__in=txn_ids)
    # From the start of the ledger: every transaction is checked (one grouped pass; a
    # transaction with a leg past `entries_through` included, which only checks more).
    rows = (
        entries.values("transaction_id", "account__currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("transaction_id")
    )
    return [
        Finding(
            code="unbalanced_transaction",
            message=f"transaction {r['transaction_id']} does not sum to zero in "
            f"{r['account__currency']}",
            object_type="transaction",
            object_id=r["transaction_id"],
            details={"currency": r["account__currency"], "sum": r["total"]},
        )
        for r in rows
    ]


def empty_transactions(*, after: int = 0, through: int | None = None) -> list[Finding]:
    """Transactions with an id in (after, through] that have no entries."""
    txns = Transaction.objects.filter(id__gt=after)
    if through is not None:
        txns = txns.filter(id__lte=through)
    # NOT EXISTS: one index probe per transaction in the range, not a join to every entry.
    rows = txns.filter(~Exists(Entry.objects.filter(transaction=OuterRef("pk")))).values_list(
        "id", "reference"
    )
    return [
        Finding(
            code="empty_transaction",
            message=f"transaction {ref} has no entries",
            object_type="transaction",
            object_id=txn_id,
        )
        for txn_id, ref in rows
    ]


def _balances(*, full: bool) -> list[Finding]:
    # An account's entries: its checkpoint's total plus the entries after it.
    tail = Entry.objects.filter(account=OuterRef("pk"))
    if not full:
        tail = tail.filter(id__gt=OuterRef("cp_through"))
    sums = tail.order_by().values("account").annotate(s=Sum("amount")).values("s")
    last = Entry.objects.filter(account=OuterRef("pk")).order_by("-id").values("balance_after")[:1]
    held = (
        Hold.objects.filter(account=OuterRef("pk"), status=Hold.Status.PENDING)
        .order_by()
        .values("account")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    accounts = Account.objects.annotate(
        cp_through=Coalesce(F("checkpoint__through_entry_id"), 0),
        cp_total=Coalesce(F("checkpoint__total"), 0) if not full else Value(0),
    ).annotate(
        raw=F("cp_total") + Coalesce(Subquery(sums), 0),
        last_after=Coalesce(Subquery(last), 0),
        pending=Coalesce(Subquery(held), 0),
    )
    findings = []
    for a in accounts:
        expected = a.raw if a.normal == NormalSide.DEBIT else -a.raw
        # Platform accounts cache no balance (NULL): nothing there can drift.
        if a.balance is not None and a.balance != expected:
            findings.append(
                Finding(
                    code="balance_mismatch",
                    message=f"{a}: cached balance {a.balance} but entries say {expected}",
                    object_type="account",
                    object_id=a.id,
                    details={"cached": a.balance, "entries": expected},
                )
            )
        if a.balance is not None and a.last_after != expected:
            findings.append(
                Finding(
                    code="balance_after_mismatch",
                    message=f"{a}: last balance_after {a.last_after} but entries say {expected}",
                    object_type="account",
                    object_id=a.id,
                    details={"balance_after": a.last_after, "entries": expected},
                )
            )
        if a.held != a.pending:
            findings.append(
                Finding(
                    code="held_mismatch",
                    message=f"{a}: cached held {a.held} but pending holds say {a.pending}",
                    object_type="account",
                    object_id=a.id,
                    details={"cached": a.held, "holds": a.pending},
                )
            )
    return findings


def _bounds() -> list[Finding]:
    # Unreachable where the CHECK constraints apply; kept so a broken database is visible.
    bad = Account.objects.filter(
        (
            Q(floor__isnull=False)
            & Q(normal=NormalSide.CREDIT)
            & Q(balance__lt=F("floor") + F("held"))
        )
        | (Q(floor__isnull=False) & Q(normal=NormalSide.DEBIT) & Q(balance__lt=F("floor")))
        | (
            Q(ceiling__isnull=False)
            & Q(normal=NormalSide.DEBIT)
            & Q(ceiling__lt=F("balance") + F("held"))
        )
        | (Q(ceiling__isnull=False) & Q(normal=NormalSide.CREDIT) & Q(ceiling__lt=F("balance")))
    )
    return [
        Finding(
            code="bound_violated",
            message=f"{a}: balance {a.balance} (held {a.held}) outside [{a.floor}, {a.ceiling}]",
            object_type="account",
            object_id=a.id,
        )
        for a in bad
    ]


def _stale_holds(max_age: timedelta) -> list[Finding]:
    cutoff = timezone.now() - max_age
    rows = Hold.objects.filter(status=Hold.Status.PENDING, created_at__lt=cutoff).order_by("id")
    return [
        Finding(
            code="stale_hold",
            message=f"hold {h.reference} is still pending since {h.created_at.isoformat()}",
            object_type="hold",
            object_id=h.id,
            details={"order_id": h.order_id, "amount": h.amount},
        )
        for h in rows
    ]


def ledger_integrity_check(
    *, max_hold_age: timedelta = DEFAULT_MAX_HOLD_AGE, full: bool = False
) -> list[Finding]:
    """Every transaction balanced and non-empty, every cached balance/held equal to its
    entries/holds, every account within its bound, every hold resolved or young. The
    entries and transactions up to the last checkpoint were checked when it was taken;
    `full` checks them again and sums every entry instead of the checkpoints' totals."""
    from ledger.checkpoints import ledger_checkpoint_last

    last = None if full else ledger_checkpoint_last()
    return [
        *unbalanced_transactions(entries_after=last.through_entry_id if last else 0),
        *empty_transactions(after=last.through_transaction_id if last else 0),
        *_balances(full=full),
        *_bounds(),
        *_stale_holds(max_hold_age),
    ]
