"""The console's small things an operator trips over all day (issue: console polish)."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.test import Client
from django_celery_beat.models import PeriodicTask
from rest_framework_api_key.models import APIKey
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from console.admin.vendors import VendorAPIKeyForm
from orders.models import Order
from tests.console.factories import OPERATOR_PASSWORD, operator
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import customer_client
from vendors.models import Vendor, VendorAPIKey
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def test_logging_in_at_admin_login_lands_on_the_console_not_a_404():
    user = operator("support")
    response = Client().post(
        "/admin/login/", {"username": user.email, "password": OPERATOR_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_names_read_as_english():
    assert str(WebhookDelivery._meta.verbose_name_plural) == "webhook deliveries"


def test_library_tables_operators_do_not_work_in_are_off_the_console():
    for model in (APIKey, OutstandingToken, BlacklistedToken):
        assert not admin.site.is_registered(model), model
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    index = client.get("/admin/").content.decode()
    assert "django_celery_beat" not in index and "token_blacklist" not in index
    assert "rest_framework_api_key/apikey" not in index
    # the beat schedule is still there for a superuser who types its address
    assert admin.site.is_registered(PeriodicTask)
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 200


def test_api_keys_are_issued_to_active_vendors_only():
    active = VendorFactory(status=Vendor.Status.ACTIVE)
    pending = VendorFactory(status=Vendor.Status.PENDING)
    choices = set(VendorAPIKeyForm().fields["vendor"].queryset)
    assert active in choices and pending not in choices


def test_the_key_list_says_active_or_revoked_in_words():
    vendor = VendorFactory(status=Vendor.Status.ACTIVE)
    live, _ = VendorAPIKey.objects.create_key(vendor=vendor, name="live")
    gone, _ = VendorAPIKey.objects.create_key(vendor=vendor, name="gone", revoked=True)
    model_admin = admin.site.get_model_admin(VendorAPIKey)
    assert model_admin.state(live) == "active"
    assert model_admin.state(gone) == "revoked"
    client = Client()
    client.force_login(operator("admin"))
    page = client.get("/admin/vendors/vendorapikey/").content.decode()
    assert ">active<" in page and ">revoked<" in page


def test_a_qr_asked_for_as_json_is_refused_not_answered_with_a_png():
    user = UserFactory()
    response = customer_client(user).get("/api/v1/esims/8944500000000000001/qr?format=json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert list(response.json()["error"]["details"]) == ["format"]


@pytest.mark.parametrize(
    "path", ["/admin/orders/order/", "/admin/fulfilment/esim/", "/admin/ledger/account/"]
)
def test_lists_of_live_and_test_rows_mark_test_rows_and_filter_on_mode(path, admin_user_role):
    """Test-mode rows carry a "test" label and the list filters on livemode: the live and
    the test `platform:revenue:USD` accounts no longer look the same."""
    from django.test import Client

    from fulfilment.models import Esim
    from ledger.services import platform_account
    from tests.core.test_state_tables import _esim

    platform_account("revenue", "USD", livemode=True)
    platform_account("revenue", "USD", livemode=False)
    for esim in (_esim(), _esim()):
        Esim.objects.filter(pk=esim.pk).update(livemode=esim.pk % 2 == 0)
    Order.objects.filter(pk=Esim.objects.order_by("pk").first().order_id).update(livemode=False)
    client = Client()
    client.force_login(admin_user_role)
    body = client.get(path).content.decode()
    assert "column-mode" in body, path
    assert "livemode__exact=0" in body, path
    test_only = client.get(path + "?livemode__exact=0").content.decode()
    assert re.search(r">\s*test\s*<", test_only), path
    assert not re.search(r">\s*live\s*<", test_only), path
