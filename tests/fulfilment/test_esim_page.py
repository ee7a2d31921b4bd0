"""The eSIM install page behind its signed link: in the API, the webhook and the email;
QR, one-tap iOS link, manual entry and usage on it; forged, altered or revoked links are
404."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client

from fulfilment.links import esim_page_revoke, esim_page_token
from fulfilment.models import Esim
from tests.console.factories import operator
from tests.factories import UserFactory
from tests.orders.factories import customer_client
from tests.orders.helpers import buy_b2b, buy_b2c, pay

pytestmark = pytest.mark.django_db


def _path(url: str) -> str:
    return urlsplit(url).path


def test_a_vendors_esim_carries_its_page_and_the_page_installs_it(
    prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    order_id = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()["id"]
    esim = Esim.objects.get(order_id=order_id)
    body = prepaid_vendor.get(f"/api/v1/vendor/esims/{esim.iccid}").json()
    assert body["page_url"].startswith("http")
    page = Client().get(_path(body["page_url"]))  # no login: the link is the key
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and esim.lpa in html
    assert "esimsetup.apple.com" in html and esim.matching_id in html
    assert 'id="usage"' in html and "MB" in html
    assert page["Cache-Control"] == "private, no-store"
    order = prepaid_vendor.get(f"/api/v1/vendor/orders/{order_id}").json()
    assert order["esims"][0]["page_url"] == body["page_url"]


def test_forged_altered_and_revoked_links_are_404(
    prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    order_id = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks, quantity=2).json()["id"]
    first, second = Esim.objects.filter(order_id=order_id).order_by("id")
    token = esim_page_token(first)
    client = Client()
    assert client.get(f"/e/{token}").status_code == 200
    assert client.get(f"/e/{token[:-2]}xx").status_code == 404
    assert client.get("/e/not-a-token").status_code == 404
    assert esim_page_token(second) != token  # one link per eSIM
    esim_page_revoke(esim=first, actor=operator("support"))
    assert client.get(f"/e/{token}").status_code == 404
    assert client.get(f"/e/{esim_page_token(first)}").status_code == 200


def test_a_revoked_esims_page_says_so_and_offers_no_install(
    prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    order_id = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()["id"]
    esim = Esim.objects.get(order_id=order_id)
    Esim.objects.filter(pk=esim.pk).update(status=Esim.Status.REVOKED)
    html = Client().get(f"/e/{esim_page_token(esim)}").content.decode()
    assert 'id="revoked"' in html and "<svg" not in html and 'id="ios-install"' not in html


def test_the_delivery_email_links_the_page(bundles, django_capture_on_commit_callbacks):
    customer = customer_client(UserFactory())
    order = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, order)
    esim = Esim.objects.get(order_id=order["id"])
    message = mail.outbox[-1]
    assert f"/e/{esim_page_token(esim)}" in message.body


def test_the_link_is_the_same_every_time(
    prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    order_id = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()["id"]
    esim = Esim.objects.get(order_id=order_id)
    token = esim_page_token(esim)
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert esim_page_token(esim) == token
