"""The traveller's side: a customer refunded by an operator hears of it, in their own
language, once the refund has committed (before, only vendors were told); the install
page and the emails name bundles as people do (never by code), with states and prices in
the reader's language; the data section lists a top-up's bundle as soon as it is bought."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from catalogue.models import Bundle, Country
from fulfilment.links import esim_page_token
from fulfilment.models import Esim
from fulfilment.operator import operator_order_refund
from orders.models import Order
from payments.models import Payment
from tests.console.factories import operator
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, RETAIL, TOPUP_CODE, customer_client
from tests.orders.helpers import buy_b2c, pay
from ttelgo.money import Money

pytestmark = pytest.mark.django_db
PRICE = RETAIL[BUNDLE_CODE]


@pytest.fixture
def spanish_order(bundles, django_capture_on_commit_callbacks) -> Order:
    customer = customer_client(UserFactory(language="es", email="lucia@example.com"))
    placed = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, placed)
    order = Order.objects.get(pk=placed["id"])
    assert order.status == Order.Status.COMPLETED
    return order


@pytest.mark.parametrize("amount", [Money(100, "USD"), None], ids=["partial", "full"])
def test_a_customer_refunded_by_an_operator_is_emailed_in_their_language(
    spanish_order, django_capture_on_commit_callbacks, amount
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        operator_order_refund(
            order_id=spanish_order.pk, actor=operator("finance"), amount=amount, reason="goodwill"
        )
    told = [m for m in mail.outbox if m.to == ["lucia@example.com"]]
    assert len(told) == 1
    refunded = Money(100 if amount else PRICE, "USD")
    assert told[0].subject == f"El pedido {spanish_order.pk} ha sido reembolsado"
    assert str(refunded) in told[0].body
    assert "Hemos reembolsado" in told[0].body


NAME = "United Kingdom 1 GB, 7 days"


@pytest.fixture
def named_order(spanish_order) -> Order:
    Bundle.objects.filter(code=BUNDLE_CODE).update(display_name=NAME)
    return spanish_order


def test_the_install_page_names_bundles_translates_states_and_prices(named_order):
    esim = Esim.objects.get(order=named_order)
    row = {"bundle_code": BUNDLE_CODE, "state": "active", "initial_mb": 1000}
    Esim.objects.filter(pk=esim.pk).update(
        bundles=[{**row, "remaining_mb": 900, "unlimited": False, "expires_at": None}],
        usage_updated_at=timezone.now(),
    )
    url = f"/e/{esim_page_token(esim)}"
    spanish = Client().get(f"{url}?lang=es").content.decode()
    assert f"<td>{NAME}</td><td>activo</td>" in spanish
    assert f">{BUNDLE_CODE}<" not in spanish and ">active<" not in spanish
    # The top-up list: human names, prices as Spanish writes them.
    assert f"{NAME} · 4,50 USD" in spanish
    english = Client().get(f"{url}?lang=en").content.decode()
    assert f"<td>{NAME}</td><td>active</td>" in english and f"{NAME} · 4.50 USD" in english
    german = Client().get(f"{url}?lang=de").content.decode()
    assert "<td>aktiv</td>" in german and f"{NAME} · 4,50 USD" in german


def test_the_delivery_email_names_the_bundle(bundles, django_capture_on_commit_callbacks):
    Bundle.objects.filter(code=BUNDLE_CODE).update(display_name=NAME)
    customer = customer_client(UserFactory(language="es", email="ana@example.com"))
    placed = buy_b2c(customer, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    pay(customer, django_capture_on_commit_callbacks, placed)
    (ready,) = [m for m in mail.outbox if m.to == ["ana@example.com"]]
    html = ready.alternatives[0][0]
    assert NAME in ready.body and NAME in html
    assert BUNDLE_CODE not in ready.body and BUNDLE_CODE not in html


def test_the_data_section_follows_a_top_up(bundles, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    Bundle.objects.filter(code=BUNDLE_CODE).update(display_name=NAME)
    Bundle.objects.filter(code=TOPUP_CODE).update(display_name="United Kingdom 2 GB, 7 days")
    uk = Country.objects.create(iso="GB", name="United Kingdom")
    for bundle in bundles.values():  # both cover the UK: the top-up fits the eSIM
        bundle.countries.add(uk)
    api = customer_client(UserFactory())
    placed = buy_b2c(api, capture)
    pay(api, capture, placed)
    esim = Esim.objects.get(order_id=placed["id"])
    earlier = timezone.now() - timedelta(minutes=1)  # still fresh: no provider call
    row = {"bundle_code": BUNDLE_CODE, "state": "active", "initial_mb": 1000, "used_mb": 100}
    Esim.objects.filter(pk=esim.pk).update(
        bundles=[{**row, "remaining_mb": 900, "unlimited": False, "expires_at": None}],
        initial_mb=1000,
        remaining_mb=900,
        usage_updated_at=earlier,
    )
    token = esim_page_token(esim)
    bought = Client().post(f"/e/{token}/topup", {"bundle_code": TOPUP_CODE})
    assert bought.status_code == 302 and "/pay/" in bought["Location"]
    assert Client().get(urlsplit(bought["Location"]).path).status_code == 200
    intent = Payment.objects.get(order__kind="topup").payment_intent_id
    with capture(execute=True):
        assert Client().post(f"/api/v1/sandbox/payment_intents/{intent}/succeed").status_code == 200
    esim.refresh_from_db()
    assert [(r["bundle_code"], r["state"]) for r in esim.bundles] == [
        (BUNDLE_CODE, "active"),
        (TOPUP_CODE, "queued"),
    ]
    assert (esim.initial_mb, esim.remaining_mb) == (3000, 2900)
    assert esim.usage_updated_at is not None and esim.usage_updated_at > earlier
    html = Client().get(f"/e/{token}?lang=en").content.decode()
    assert f"<td>{NAME}</td><td>active</td>" in html
    assert "<td>United Kingdom 2 GB, 7 days</td><td>queued</td>" in html
    assert f"Updated {timezone.localtime(esim.usage_updated_at):%Y-%m-%d %H:%M} UTC." in html
