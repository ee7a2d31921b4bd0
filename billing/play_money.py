"""Test mode's money: a vendor's test environment starts with play money on its test
wallet, and the vendor can refill it. Play money moves only between the test wallet and
test mode's own platform accounts (`livemode=False`), never the live books."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction

from billing.selectors import vendor_balance_of
from billing.services import vendor_account, vendor_adjustment
from ledger.posting import accounts_lock
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.models import Vendor
from vendors.services import vendor_test_environment

# What a new test wallet holds, and what a refill brings it back up to, in major units.
PLAY_MONEY_MAJOR = 1000


def play_money(currency: str) -> Money:
    return Money.from_decimal(PLAY_MONEY_MAJOR, currency)


def vendor_test_environment_open(*, vendor: Vendor) -> Vendor:
    """The vendor's test environment, opened with a funded test wallet on first use."""
    twin, created = vendor_test_environment(vendor=vendor)
    if created:
        vendor_adjustment(
            vendor=twin,
            amount=play_money(twin.currency),
            reason="Test mode: play money",
            actor=None,
            reference=f"test-mode:{twin.pk}:opening",
        )
    return twin


def play_money_refill(*, vendor: Vendor, actor: Any = None) -> Money:
    """Bring a test wallet back up to the play-money amount; returns what was added.

    The wallet's row is locked while the shortfall is read and posted, so refills at the
    same moment queue: the first tops the wallet up, the others find it full. The wallet
    never holds more than the play-money amount through a refill."""
    if vendor.livemode:
        raise DomainError("invalid_state", "Only a test wallet can be refilled with play money.")
    target = play_money(vendor.currency)
    account = vendor_account(vendor=vendor)
    with transaction.atomic():
        locked = accounts_lock([account.id])[account.id]
        available = vendor_balance_of(vendor=vendor, account=locked).available
        missing = target.amount - available.amount
        if missing <= 0:
            raise DomainError(
                "invalid_state",
                f"The test wallet already holds {available} or more of play money.",
                details={"available": available.to_api()},
            )
        added = Money(missing, vendor.currency)
        vendor_adjustment(
            vendor=vendor,
            amount=added,
            reason="Test mode: play money refill",
            actor=actor,
            reference=f"test-mode:{vendor.pk}:refill:{uuid.uuid4()}",
        )
    return added
