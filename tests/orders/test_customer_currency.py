"""Customers choose the currency they see prices and pay in (`CUSTOMER_CURRENCIES`): the
price lists are built once per currency (catalogue sync/reprice, `Bundle.prices`), the
catalogue shows them with `?currency=`, an order with `currency` is priced from them and
its PaymentIntent is in that currency (minor units per its decimals: JPY 0, EUR 2, KWD 3,
sandbox and Stripe), refunds are in it, and every ledger transaction balances per
currency. A client that sends nothing new sees what it saw."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
import responses
from django.utils import timezone

from catalogue.fx import bundle_price_lists_build, fx_rates_refresh
from catalogue.models import Bundle
from catalogue.pricing import minimum_price
from catalogue.services import catalogue_reprice
from ledger.integrity import ledger_integrity_check
from ledger.models import Entry, Purpose
from orders.models import Order
from payments.models import Payment
from payments.services import payment_refund_for_order
from sandbox.stripe import sandbox_intent_succeed
from tests.core.money_race_setups import customer_client, post_keyed
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create
from tests.payments import stripe_shapes as shapes
from ttelgo.money import Money

pytestmark = pytest.mark.django_db
BUNDLES = "/api/v1/catalogue/bundles"


@pytest.fixture(autouse=True)
def _currencies(settings):
    settings.CUSTOMER_CURRENCIES = ["EUR", "JPY", "KWD"]
    settings.FX_SOURCE_CLASS = "catalogue.fx.FixedFxSource"
    settings.PLATFORM_COUNTRY = ""  # no VAT here: the totals are the prices


@pytest.fixture
def bundle(db):
    fx_rates_refresh(day=timezone.localdate())
    bundles_create()
    catalogue_reprice()  # builds the price lists with the day's rates
    return Bundle.objects.get(code=BUNDLE_CODE)


def test_price_lists_are_built_per_currency_above_the_floor(bundle):
    assert set(bundle.prices) == {"EUR", "JPY", "KWD"}
    for entry in bundle.prices.values():
        # Never below the converted cost plus the minimum margin.
        assert entry["amount"] >= minimum_price(entry["cost"])
        assert entry["day"] == timezone.localdate().isoformat()
    assert bundle.prices["KWD"]["amount"] % 10 == 0  # three decimals, in tens


def test_the_catalogue_shows_prices_in_the_chosen_currency_and_by_default_its_own(bundle, client):
    plain = client.get(BUNDLES).json()["results"]
    row = next(r for r in plain if r["code"] == BUNDLE_CODE)
    assert row["price"] == Money(bundle.retail_amount, "USD").to_api()
    euro = client.get(BUNDLES, {"currency": "eur"}).json()["results"]
    row = next(r for r in euro if r["code"] == BUNDLE_CODE)
    assert row["price"] == Money(bundle.prices["EUR"]["amount"], "EUR").to_api()
    yen = client.get(f"{BUNDLES}/{BUNDLE_CODE}", {"currency": "JPY"}).json()
    assert yen["price"] == {"amount": str(bundle.prices["JPY"]["amount"]), "currency": "JPY"}
    refused = client.get(BUNDLES, {"currency": "XYZ"})
    assert refused.status_code == 400
    assert "currency" in refused.json()["error"]["details"]


@pytest.mark.parametrize("currency", ["EUR", "JPY", "KWD"])
def test_an_order_in_the_customers_currency_is_charged_and_refunded_in_it(
    bundle, currency, django_capture_on_commit_callbacks
):
    client = customer_client(UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        response = post_keyed(
            client,
            "/api/v1/orders",
            {"bundle_code": BUNDLE_CODE, "quantity": 2, "currency": currency},
        )
    assert response.status_code == 201, response.content
    body = response.json()
    price = bundle.prices[currency]["amount"]
    assert body["total"] == Money(2 * price, currency).to_api()
    payment = Payment.objects.get(order_id=body["id"])
    # The PaymentIntent: the order's currency, its amount in that currency's minor units.
    assert (payment.currency, payment.amount) == (currency, 2 * price)
    with django_capture_on_commit_callbacks(execute=True):
        sandbox_intent_succeed(payment_intent_id=payment.payment_intent_id)
    order = Order.objects.get(pk=body["id"])
    assert order.status == Order.Status.COMPLETED
    # What we buy stays in the provider's currency, booked in it.
    assert order.cost == Money(2 * bundle.cost_amount, "USD")
    cogs = Entry.objects.filter(transaction__order_id=order.pk, account__purpose=Purpose.COGS)
    assert {e.account.currency for e in cogs} == {"USD"}
    clearing = Entry.objects.filter(
        transaction__order_id=order.pk, account__purpose=Purpose.STRIPE_CLEARING
    )
    assert {e.account.currency for e in clearing} == {currency}
    with django_capture_on_commit_callbacks(execute=True):
        payment_refund_for_order(
            order_id=order.pk, amount=Money(price, currency), reason="one of two"
        )
    payment.refresh_from_db()
    assert payment.refunded_amount == price
    refunds = Entry.objects.filter(
        transaction__order_id=order.pk, account__purpose=Purpose.REFUNDS, amount__gt=0
    )
    assert [(e.account.currency, e.amount) for e in refunds] == [(currency, price)]
    # Every transaction balances per currency.
    assert ledger_integrity_check() == []


def test_an_order_without_a_currency_is_what_it_was(bundle, django_capture_on_commit_callbacks):
    client = customer_client(UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        body = post_keyed(
            client, "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1}
        ).json()
    assert body["total"] == Money(bundle.retail_amount, "USD").to_api()
    assert Payment.objects.get(order_id=body["id"]).currency == "USD"


def test_a_currency_customers_may_not_choose_is_refused(bundle):
    response = post_keyed(
        customer_client(UserFactory()),
        "/api/v1/orders",
        {"bundle_code": BUNDLE_CODE, "quantity": 1, "currency": "CHF"},
    )
    assert response.status_code == 400
    assert "currency" in response.json()["error"]["details"]
    assert not Order.objects.exists()


def test_a_price_list_with_no_rate_yet_keeps_what_it_had(bundle, settings):
    settings.CUSTOMER_CURRENCIES = ["EUR", "BHD"]  # no stored rate for BHD
    before = dict(bundle.prices)
    bundle_price_lists_build(day=timezone.localdate())
    bundle.refresh_from_db()
    assert "BHD" not in bundle.prices and bundle.prices["EUR"] == before["EUR"]


@responses.activate
@pytest.mark.parametrize(("amount", "currency"), [(1234, "JPY"), (1234, "EUR"), (12340, "KWD")])
def test_stripe_is_asked_in_the_currency_and_its_minor_units(settings, amount, currency):
    from payments.gateways import get_gateway

    settings.PAYMENTS_BACKEND = "stripe"
    settings.STRIPE_SECRET_KEY = "sk_test_suite_only"
    settings.STRIPE_API_BASE = "https://stripe.test"
    responses.post("https://stripe.test/v1/payment_intents", json=shapes.payment_intent())
    get_gateway().create_payment_intent(
        amount=Money(amount, currency), metadata={}, idempotency_key="k"
    )
    body = responses.calls[0].request.body
    form = parse_qs(body.decode() if isinstance(body, bytes) else body)
    assert form["amount"] == [str(amount)] and form["currency"] == [currency.lower()]
