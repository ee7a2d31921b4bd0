"""The eSIM, refund and auto top-up pages moved with their models from /admin/orders/ to
/admin/fulfilment/; the old addresses redirect there (operators' bookmarks)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "model", ["esim", "esimrefund", "providerrefund", "autotopuprule", "autotopuprun"]
)
def test_the_pages_are_fulfilments_and_the_old_addresses_redirect_there(operator_client, model):
    assert reverse(f"admin:fulfilment_{model}_changelist") == f"/admin/fulfilment/{model}/"
    assert operator_client.get(f"/admin/fulfilment/{model}/").status_code == 200
    resp = operator_client.get(f"/admin/orders/{model}/?q=1")
    assert resp.status_code == 302
    assert resp["Location"] == f"/admin/fulfilment/{model}/?q=1"


def test_the_orders_own_pages_stay_where_they_were(operator_client):
    for model in ("order", "orderreview", "fraudrule", "fraudsettings"):
        assert operator_client.get(f"/admin/orders/{model}/").status_code == 200
