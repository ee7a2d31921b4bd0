"""Row locks on the ledger's rows: every `select_for_update` on a ledger model goes
through one of these (Saleor's `lock_objects`), so each row is locked one way everywhere.
Accounts are locked by the posting service in one batch, in id order (ledger/posting.py);
account checkpoints are locked while the checkpoint advances (ledger/checkpoints.py)."""

from __future__ import annotations

from django.db.models import QuerySet

from ledger.models import AccountCheckpoint


def account_checkpoint_qs_select_for_update() -> QuerySet[AccountCheckpoint]:
    return AccountCheckpoint.objects.select_for_update()
