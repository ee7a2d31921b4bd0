import pytest
from django.contrib.auth.models import Group
from django.test import Client

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


def _login(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_admin_role_cannot_make_itself_superuser_or_touch_staff_accounts():
    from ttelgo.models import User

    admin = operator("admin")
    superuser = UserFactory(is_staff=True, is_superuser=True)
    customer = UserFactory()
    client = _login(admin)

    # Its own account: no change form to post is_superuser through.
    own = f"/admin/ttelgo/user/{admin.pk}/change/"
    client.post(own, {"email": admin.email, "is_active": "on", "is_superuser": "on"})
    assert not User.objects.get(pk=admin.pk).is_superuser
    # A superuser's password cannot be reset by it.
    assert client.get(f"/admin/ttelgo/user/{superuser.pk}/password/").status_code == 403
    # A customer's account it may look after, but not make staff of.
    page = client.get(f"/admin/ttelgo/user/{customer.pk}/change/")
    assert page.status_code == 200
    client.post(
        f"/admin/ttelgo/user/{customer.pk}/change/",
        {"email": customer.email, "is_active": "on", "is_staff": "on", "is_superuser": "on"},
    )
    customer.refresh_from_db()
    assert not customer.is_staff and not customer.is_superuser


def test_a_superuser_still_manages_staff_accounts():
    root = UserFactory(is_staff=True, is_superuser=True)
    support = operator("support")
    client = _login(root)
    assert client.get(f"/admin/ttelgo/user/{support.pk}/change/").status_code == 200
    assert client.get(f"/admin/ttelgo/user/{support.pk}/password/").status_code == 200


def test_every_project_app_with_data_is_operated_except_the_simulators():
    from pathlib import Path

    from django.apps import apps
    from django.conf import settings

    from ttelgo.roles import operated_apps

    root = Path(settings.BASE_DIR).resolve()
    ours = {
        c.label
        for c in apps.get_app_configs()
        if c.models_module is not None
        and root in Path(c.path).resolve().parents
        and ".venv" not in Path(c.path).parts
    }
    assert set(operated_apps()) == ours - {"sandbox"}
    # Every role can view the data of each of them (user accounts excepted).
    support = operator("support")
    for label in operated_apps():
        for model in apps.get_app_config(label).get_models():
            if "view" not in model._meta.default_permissions:
                continue
            perm = f"{label}.view_{model._meta.model_name}"
            assert support.has_perm(perm) == (perm != "ttelgo.view_user"), perm
