"""The ledger keeps no reference to its owners' tables: a vendor account names its vendor
only as `holder`, and the vendor points at its accounts (billing.VendorAccount)."""

from __future__ import annotations

import threading

import pytest
from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from billing.accounts import vendor_ledger_account, vendor_ledger_account_find
from billing.models import VendorAccount
from ledger.models import Account, Purpose
from tests.ledger.factories import postpaid, prepaid


def test_ledger_models_relate_only_to_the_ledger_and_the_user():
    allowed = {"ledger", settings.AUTH_USER_MODEL.split(".")[0]}
    for model in apps.get_app_config("ledger").get_models():
        for field in model._meta.get_fields():
            if field.is_relation and field.concrete and field.related_model is not None:
                assert field.related_model._meta.app_label in allowed, (model, field.name)


@pytest.mark.django_db
def test_opening_a_vendor_account_links_it_to_the_vendor_once():
    vendor = postpaid(credit_limit=50_000)
    assert vendor_ledger_account_find(vendor=vendor) is None
    account = vendor_ledger_account(vendor=vendor)
    again = vendor_ledger_account(vendor=vendor)
    assert again.id == account.id
    assert (account.owner, account.holder, account.purpose) == ("vendor", vendor.pk, "receivable")
    assert account.ceiling == 50_000
    assert list(vendor.ledger_accounts.values_list("account_id", flat=True)) == [account.id]
    assert vendor_ledger_account_find(vendor=vendor) == account
    # A second currency is a second account, with its own link.
    eur = vendor_ledger_account(vendor=vendor, purpose=Purpose.RECEIVABLE, currency="EUR")
    assert eur.id != account.id
    assert VendorAccount.objects.filter(vendor=vendor).count() == 2


@pytest.mark.django_db
def test_a_vendor_account_needs_a_holder_and_a_platform_account_has_none():
    vendor = prepaid()
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(
            owner="vendor", purpose="wallet", currency="USD", type="liability", normal="credit"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(
            owner="platform",
            holder=vendor.pk,
            purpose="revenue",
            currency="USD",
            type="income",
            normal="credit",
            balance=None,
        )


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_vendor_accounts_holder_cannot_change():
    account = vendor_ledger_account(vendor=prepaid())
    other = prepaid()
    with (
        pytest.raises(IntegrityError, match="immutable"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE ledger_account SET holder = %s WHERE id = %s", [other.pk, account.id]
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_threads_opening_one_vendor_account_make_one_account_and_one_link():
    vendor = prepaid()
    barrier = threading.Barrier(8)
    ids: list[int] = []
    errors: list[BaseException] = []

    def open_account() -> None:
        try:
            barrier.wait(timeout=30)
            ids.append(vendor_ledger_account(vendor=vendor).id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_account) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(set(ids)) == 1 and len(ids) == 8
    assert Account.objects.filter(holder=vendor.pk).count() == 1
    assert VendorAccount.objects.filter(vendor=vendor).count() == 1
