"""Balance checkpoints: the ledger folded into one total per account, so the trial
balance and the integrity check read the entries written since the last checkpoint (the
tail, an index range scan), not the whole ledger.

Platform accounts cache no balance (every sale would wait on their rows), so their
balance used to be the sum of all their entries, and the integrity check summed every
entry of every account: both grew with the ledger (10M entries at a busy reseller's
size). A beat task (`ledger.tasks.ledger_checkpoint_advance`, every 10 minutes) folds
the entries written since the last checkpoint into `AccountCheckpoint.total`, after
checking that range the way the integrity check would (every transaction balanced and
non-empty): a range with a finding is not folded, so the check keeps reporting it.

Entries are append-only (a trigger refuses UPDATE and DELETE), so a folded total stays
true. A checkpoint only folds entries written more than `SETTLE` ago: an entry takes its
id when it is inserted but is seen by others only when its transaction commits, so an id
below the checkpoint could still appear later if a posting transaction stayed open
across it. Postings are short transactions (no network call inside one); if one ever
stayed open that long, the account's cached balance (vendor accounts)
or the trial balance's totals (platform accounts) would disagree with the checkpoint and
the integrity check would report it, and `ledger_integrity_check(full=True)` ignores the
checkpoints altogether.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from ledger.lock_objects import account_checkpoint_qs_select_for_update
from ledger.models import AccountCheckpoint, Entry, LedgerCheckpoint, Transaction

logger = logging.getLogger(__name__)

SETTLE = timedelta(minutes=10)
# One advance at a time (two would fold the same range twice).
_ADVISORY_LOCK = 7_340_034


def ledger_checkpoint_last() -> LedgerCheckpoint | None:
    return LedgerCheckpoint.objects.order_by("-id").first()


def ledger_checkpoint_advance(*, settle: timedelta = SETTLE) -> LedgerCheckpoint | None:
    """Fold every entry and transaction written more than `settle` ago and not yet folded
    into the per-account totals, and record the new checkpoint. None when there was
    nothing new, or when the new range has an integrity finding (left unfolded, so the
    integrity check keeps reporting it; logged)."""
    from ledger.integrity import empty_transactions, unbalanced_transactions

    cutoff = timezone.now() - settle
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
        last = ledger_checkpoint_last()
        low_e = last.through_entry_id if last else 0
        low_t = last.through_transaction_id if last else 0
        high_e = (
            Entry.objects.filter(id__gt=low_e, created_at__lt=cutoff).aggregate(m=Max("id"))["m"]
            or low_e
        )
        high_t = (
            Transaction.objects.filter(id__gt=low_t, created_at__lt=cutoff).aggregate(m=Max("id"))[
                "m"
            ]
            or low_t
        )
        if (high_e, high_t) == (low_e, low_t):
            return None
        findings = [
            *unbalanced_transactions(entries_after=low_e, entries_through=high_e),
            *empty_transactions(after=low_t, through=high_t),
        ]
        if findings:
            logger.warning(
                "ledger checkpoint not advanced past entry %s: %s",
                low_e,
                "; ".join(f.message for f in findings[:5]),
            )
            return None
        rows = list(
            Entry.objects.filter(id__gt=low_e, id__lte=high_e)
            .order_by()
            .values("account_id")
            .annotate(s=Sum("amount"), n=Count("id"))
            .values_list("account_id", "s", "n")
        )
        deltas = {account_id: int(s) for account_id, s, _ in rows}
        folded = sum(n for _, _, n in rows)
        existing = {
            c.account_id: c
            for c in account_checkpoint_qs_select_for_update().filter(account_id__in=list(deltas))
        }
        for checkpoint in existing.values():
            checkpoint.total += deltas[checkpoint.account_id]
        AccountCheckpoint.objects.bulk_update(existing.values(), ["total"], batch_size=1000)
        AccountCheckpoint.objects.bulk_create(
            [
                AccountCheckpoint(account_id=account_id, total=s, through_entry_id=high_e)
                for account_id, s in deltas.items()
                if account_id not in existing
            ],
            batch_size=1000,
        )
        # Every account's total now covers the same entries.
        AccountCheckpoint.objects.filter(through_entry_id__lt=high_e).update(
            through_entry_id=high_e, updated_at=timezone.now()
        )
        return LedgerCheckpoint.objects.create(
            through_entry_id=high_e, through_transaction_id=high_t, entries_folded=folded
        )
