"""Transfers racing from 20 threads (own connections, real PostgreSQL) against one parent
wallet: never overdrawn, the total across the tree constant, no deadlock."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db.models import Sum

from billing.models import WalletTransfer
from billing.subvendors import sub_vendor_create, wallet_transfer_create
from ledger.integrity import ledger_integrity_check
from ledger.models import Account, Entry
from tests.ledger.factories import fund, prepaid, usd, wallet
from tests.ledger.test_concurrency import _outcome, _run_concurrently
from vendors.models import Vendor

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_20_threads_transferring_from_one_parent_wallet_never_overdraw_it():
    top = prepaid(status=Vendor.Status.ACTIVE)
    subs = [sub_vendor_create(parent=top, name=f"Sub {i}") for i in range(3)]
    fund(top, 1_000)
    accounts = [wallet(v) for v in (top, *subs)]

    def transfer(i: int) -> object:
        sub = subs[i % 3]
        if i % 5 == 4:  # some take money back while the others fund
            return wallet_transfer_create(
                parent=top, sub_vendor=sub, amount=usd(70), direction="withdraw"
            )
        return wallet_transfer_create(parent=top, sub_vendor=sub, amount=usd(150))

    results = _run_concurrently(20, transfer)

    outcomes = Counter(_outcome(r) for r in results)
    assert set(outcomes) <= {"ok", "insufficient_funds"}, outcomes  # no deadlock, no 500
    assert outcomes["ok"] >= 6 and outcomes["insufficient_funds"] >= 1, outcomes
    balances = {a.id: a.balance for a in Account.objects.filter(id__in=[a.id for a in accounts])}
    assert all(b >= 0 for b in balances.values()), balances  # never overdrawn
    assert sum(balances.values()) == 1_000  # the tree's money is constant
    assert WalletTransfer.objects.count() == outcomes["ok"]
    assert Entry.objects.filter(transaction__kind="transfer").count() == 2 * outcomes["ok"]
    moved = {
        acc: Entry.objects.filter(account_id=acc).aggregate(s=Sum("amount"))["s"] or 0
        for acc in balances
    }
    assert all(-moved[acc] == balances[acc] for acc in balances)  # balance == its entries
    assert ledger_integrity_check() == []
