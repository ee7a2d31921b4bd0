"""Sub-resellers: the tree (3 levels, capped), credit granted within the parent's own, and
wallet transfers as balanced, bounded ledger transactions."""

from __future__ import annotations

import pytest
from django.test import override_settings

from billing.models import WalletTransfer
from billing.selectors import vendor_balance
from billing.subvendors import (
    sub_vendor_create,
    sub_vendor_credit_limit_set,
    sub_vendor_get,
    sub_vendor_tree,
    wallet_transfer_create,
)
from ledger.integrity import ledger_integrity_check
from ledger.models import Entry, Transaction
from tests.ledger.factories import fund, postpaid, prepaid, receivable, usd, wallet
from ttelgo.errors import DomainError
from vendors.models import Vendor, VendorInvitation
from vendors.services import vendor_suspend, vendor_test_environment

pytestmark = pytest.mark.django_db


def _three_levels(top: Vendor) -> tuple[Vendor, Vendor, Vendor]:
    one = sub_vendor_create(parent=top, name="Level one", markup_bps=1_000, owner_email="a@x.io")
    two = sub_vendor_create(parent=one, name="Level two", markup_bps=1_000)
    three = sub_vendor_create(parent=two, name="Level three", markup_bps=500)
    return one, two, three


def test_three_levels_below_a_vendor_and_no_fourth():
    top = prepaid(status=Vendor.Status.ACTIVE)
    one, two, three = _three_levels(top)
    assert [v.depth for v in (top, one, two, three)] == [0, 1, 2, 3]
    assert three.ancestors == [two, one, top]
    assert (three.currency, three.status, three.livemode) == ("USD", "active", True)
    assert sub_vendor_tree(vendor=top) == [one, two, three]
    with pytest.raises(DomainError) as exc:
        sub_vendor_create(parent=three, name="Level four")
    assert (exc.value.code, exc.value.details) == ("invalid_state", {"max_depth": 3})
    # The owner is invited to the sub-vendor's portal (and issues its own keys there).
    assert VendorInvitation.objects.get(vendor=one).role == "owner"


@override_settings(SUB_VENDOR_MAX_DEPTH=1)
def test_the_depth_cap_is_a_setting():
    top = prepaid(status=Vendor.Status.ACTIVE)
    one = sub_vendor_create(parent=top, name="One")
    with pytest.raises(DomainError):
        sub_vendor_create(parent=one, name="Two")


def test_a_parent_reaches_only_its_own_direct_sub_vendors():
    a, b = prepaid(status=Vendor.Status.ACTIVE), prepaid(status=Vendor.Status.ACTIVE)
    a1, a2, _ = _three_levels(a)
    b1 = sub_vendor_create(parent=b, name="B1")
    assert sub_vendor_get(parent=a, sub_vendor_id=a1.pk) == a1
    for parent, target in ((a, b1), (b, a1), (a, a2), (a1, a), (a2, a1)):
        with pytest.raises(DomainError) as exc:
            sub_vendor_get(parent=parent, sub_vendor_id=target.pk)
        assert exc.value.code == "not_found"
    fund(a, 1_000)
    with pytest.raises(DomainError) as exc:
        wallet_transfer_create(parent=a, sub_vendor=b1, amount=usd(10))
    assert exc.value.code == "not_found"


def test_a_transfer_moves_money_once_and_is_refused_over_the_available_balance():
    top = prepaid(status=Vendor.Status.ACTIVE)
    sub = sub_vendor_create(parent=top, name="Sub")
    fund(top, 1_000)
    transfer = wallet_transfer_create(parent=top, sub_vendor=sub, amount=usd(600))
    assert (transfer.livemode, transfer.amount, transfer.direction) == (True, 600, "fund")
    assert transfer.transaction.kind == Transaction.Kind.TRANSFER
    assert vendor_balance(vendor=top).available == usd(400)
    assert vendor_balance(vendor=sub).available == usd(600)
    with pytest.raises(DomainError) as exc:
        wallet_transfer_create(parent=top, sub_vendor=sub, amount=usd(401))
    assert exc.value.code == "insufficient_funds"
    assert exc.value.details["shortfall"] == usd(1).to_api()
    back = wallet_transfer_create(parent=top, sub_vendor=sub, amount=usd(100), direction="withdraw")
    assert back.direction == "withdraw"
    assert (wallet(top).balance, wallet(sub).balance) == (500, 500)
    with pytest.raises(DomainError) as exc:
        wallet_transfer_create(parent=top, sub_vendor=sub, amount=usd(501), direction="withdraw")
    assert exc.value.code == "insufficient_funds"
    assert WalletTransfer.objects.count() == 2
    assert Entry.objects.filter(transaction__kind="transfer").count() == 4
    assert ledger_integrity_check() == []


def test_a_postpaid_parent_funds_a_wallet_on_its_credit_and_grants_credit_within_it():
    top = postpaid(credit_limit=1_000, status=Vendor.Status.ACTIVE)
    prepaid_sub = sub_vendor_create(parent=top, name="Prepaid sub")
    wallet_transfer_create(parent=top, sub_vendor=prepaid_sub, amount=usd(300))
    assert receivable(top).balance == 300  # the parent owes it
    with pytest.raises(DomainError) as exc:
        wallet_transfer_create(parent=top, sub_vendor=prepaid_sub, amount=usd(701))
    assert exc.value.code == "credit_limit_exceeded"

    credit_sub = sub_vendor_create(
        parent=top, name="Credit sub", billing_mode="postpaid", credit_limit=usd(600)
    )
    assert receivable(credit_sub).ceiling == 600
    other = sub_vendor_create(parent=top, name="Other", billing_mode="postpaid")
    with pytest.raises(DomainError) as exc:
        sub_vendor_credit_limit_set(parent=top, sub_vendor=other, limit=usd(401))
    assert exc.value.code == "credit_limit_exceeded"
    sub_vendor_credit_limit_set(parent=top, sub_vendor=other, limit=usd(400))
    with pytest.raises(DomainError) as exc:  # a postpaid sub-vendor has no wallet to fund
        wallet_transfer_create(parent=top, sub_vendor=credit_sub, amount=usd(1))
    assert exc.value.code == "invalid_state"


def test_a_prepaid_parent_grants_no_credit():
    top = prepaid(status=Vendor.Status.ACTIVE)
    with pytest.raises(DomainError) as exc:
        sub_vendor_create(parent=top, name="Sub", billing_mode="postpaid")
    assert exc.value.code == "validation_error"


def test_test_mode_has_the_same_tree_and_no_way_across():
    top = prepaid(status=Vendor.Status.ACTIVE)
    sub = sub_vendor_create(parent=top, name="Sub", markup_bps=700)
    sub_env, _ = vendor_test_environment(vendor=sub)
    top_env = Vendor.objects.get(live_vendor=top)
    assert (sub_env.parent, sub_env.livemode, sub_env.markup_bps) == (top_env, False, 700)
    with pytest.raises(DomainError) as exc:  # sub-vendors are created with a live key
        sub_vendor_create(parent=top_env, name="Test sub")
    assert exc.value.code == "invalid_state"
    with pytest.raises(DomainError) as exc:  # live parent, test sub-vendor: not its child
        wallet_transfer_create(parent=top, sub_vendor=sub_env, amount=usd(1))
    assert exc.value.code == "not_found"
    fund(top_env, 500)
    transfer = wallet_transfer_create(parent=top_env, sub_vendor=sub_env, amount=usd(200))
    assert transfer.livemode is False
    assert wallet(sub_env).livemode is False


def test_a_sub_vendor_stops_with_a_suspended_vendor_above_it():
    top = prepaid(status=Vendor.Status.ACTIVE)
    one, _, three = _three_levels(top)
    vendor_suspend(vendor=one, actor=None, reason="unpaid")
    three.refresh_from_db()
    assert three.status == "active" and three.access_status == "suspended"
