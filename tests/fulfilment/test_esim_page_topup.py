"""Buying more data from the eSIM's page: a customer picks a top-up and pays by card on
the payment page (no login: the signed links are the key); a vendor's end customer is
sent to the vendor's own shop, or offered nothing."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.test import Client

from catalogue.models import Bundle, Country
from fulfilment.links import esim_page_token
from fulfilment.models import Esim
from orders.models import Order
from payments.models import Payment
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import BUNDLE_CODE, TOPUP_CODE, customer_client, fund, vendor_client
from tests.orders.helpers import assert_ledger_sound, buy_b2b, buy_b2c, pay
from vendors.branding import vendor_brand_set

pytestmark = pytest.mark.django_db


def test_a_customer_tops_up_from_the_page_by_card(bundles, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    uk = Country.objects.create(iso="GB", name="United Kingdom")
    for bundle in bundles.values():  # both cover the UK: the top-up fits the eSIM
        bundle.countries.add(uk)
    Bundle.objects.create(  # elsewhere: not offered
        code="esim_1GB_7D_JP_V2",
        data_mb=1000,
        validity_days=7,
        cost_amount=100,
        retail_amount=300,
        currency="USD",
    ).countries.add(Country.objects.create(iso="JP", name="Japan"))
    api = customer_client(UserFactory())
    order = buy_b2c(api, capture)
    pay(api, capture, order)
    esim = Esim.objects.get(order_id=order["id"])
    token = esim_page_token(esim)
    html = Client().get(f"/e/{token}").content.decode()
    assert 'id="topup-buy"' in html and f'value="{TOPUP_CODE}"' in html
    assert f'value="{BUNDLE_CODE}"' in html and "esim_1GB_7D_JP_V2" not in html

    refused = Client().post(f"/e/{token}/topup", {"bundle_code": "esim_99GB_X"})
    assert refused["Location"].endswith("topup=error#topup")
    bought = Client().post(f"/e/{token}/topup?lang=es", {"bundle_code": TOPUP_CODE})
    assert bought.status_code == 302 and "/pay/" in bought["Location"]
    topup = Order.objects.get(kind="topup")
    assert (topup.target_iccid, topup.status) == (esim.iccid, "awaiting_payment")
    pay_page = Client().get(urlsplit(bought["Location"]).path + "?lang=es")
    text = pay_page.content.decode()
    assert pay_page.status_code == 200 and 'id="confirm-payment"' in text
    assert "Recarga tu eSIM" in text

    intent = Payment.objects.get(order=topup).payment_intent_id
    with capture(execute=True):
        assert Client().post(f"/api/v1/sandbox/payment_intents/{intent}/succeed").status_code == 200
    topup.refresh_from_db()
    assert topup.status == "completed"
    assert 'id="paid"' in Client().get(urlsplit(bought["Location"]).path).content.decode()
    assert_ledger_sound()


def test_a_vendors_customer_goes_to_the_vendors_shop(bundles, django_capture_on_commit_callbacks):
    vendor = VendorFactory()
    fund(vendor, 10_000)
    api = vendor_client(vendor)
    esim = Esim.objects.get(order_id=buy_b2b(api, django_capture_on_commit_callbacks).json()["id"])
    token = esim_page_token(esim)
    assert 'id="topup"' not in Client().get(f"/e/{token}").content.decode()
    vendor_brand_set(vendor=vendor, display_name="Shop", topup_url="https://shop.example/data")
    html = Client().get(f"/e/{token}").content.decode()
    assert 'id="topup-link" href="https://shop.example/data"' in html and "topup-buy" not in html
    refused = Client().post(f"/e/{token}/topup", {"bundle_code": TOPUP_CODE})
    assert refused["Location"].endswith("topup=error#topup")
    assert not Order.objects.filter(kind="topup").exists()
