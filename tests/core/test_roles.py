import pytest
from django.contrib.auth.models import Group

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def operator(role):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def test_roles_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {"support", "finance", "admin"}


def test_support_can_cancel_and_refund_small_but_not_change_credit():
    user = operator("support")
    assert user.has_perm("ttelgo.cancel_orders")
    assert user.has_perm("ttelgo.refund_small")
    assert user.has_perm("orders.view_order")
    assert not user.has_perm("ttelgo.change_credit_limit")
    assert not user.has_perm("ttelgo.refund_any")
    assert not user.has_perm("ttelgo.adjust_wallet")
    assert not user.has_perm("orders.change_order")


def test_finance_handles_credit_adjustments_invoices_reconciliation():
    user = operator("finance")
    for perm in ("change_credit_limit", "adjust_wallet", "settle_invoice", "run_reconciliation"):
        assert user.has_perm(f"ttelgo.{perm}")
    assert not user.has_perm("ttelgo.review_orders")
    assert not user.has_perm("ttelgo.approve_vendors")


def test_admin_role_has_everything_operated():
    user = operator("admin")
    for perm in ("ttelgo.review_orders", "ttelgo.approve_vendors", "ttelgo.change_credit_limit"):
        assert user.has_perm(perm)
    assert user.has_perm("vendors.change_vendor")
