"""Play money has a cap: a refill brings a test wallet back up to the play-money amount,
never beyond it, however many refills arrive at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from billing.play_money import play_money_refill, vendor_test_environment_open
from billing.selectors import vendor_balance
from billing.services import vendor_adjustment
from ledger.models import Transaction
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.models import Vendor


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_refills_bring_the_test_wallet_up_to_the_cap_once():
    """Ten PostgreSQL connections refill a half-spent test wallet at the same moment: one
    refill adds the 500.00 missing, the other nine find the wallet full, and the wallet
    holds exactly the 1,000.00 cap."""
    vendor = Vendor.objects.create(name="Refillers", status="active", currency="USD")
    environment = vendor_test_environment_open(vendor=vendor)
    vendor_adjustment(
        vendor=environment, amount=Money(-50_000, "USD"), reason="spent in tests", actor=None
    )
    start = threading.Barrier(10)
    added: list[Money] = []
    refused: list[str] = []
    errors: list[str] = []

    def refill() -> None:
        try:
            start.wait(timeout=30)
            added.append(play_money_refill(vendor=Vendor.objects.get(pk=environment.pk)))
        except DomainError as exc:
            refused.append(exc.code)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=refill) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert added == [Money(50_000, "USD")]
    assert refused == ["invalid_state"] * 9
    assert vendor_balance(vendor=environment).available == Money(100_000, "USD")
    refills = Transaction.objects.filter(reference__startswith=f"test-mode:{environment.pk}:refill")
    assert refills.count() == 1
