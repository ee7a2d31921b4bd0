"""Selling from the portal without code: the order page (bundles by country or region at
the vendor's price, retail price and margin; a confirm step with the price and what is
left), one order per confirm form however often it is sent, refusals that place nothing,
and an eSIM's top-up confirmed at its price."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from billing.selectors import vendor_balance
from catalogue.models import Bundle, Country, Region
from fulfilment.models import Esim
from orders.models import Order
from portal.modes import SESSION_KEY
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, TOPUP_CODE, bundles_create, fund
from ttelgo.models import IdempotencyKey
from vendors.models import Vendor, VendorUser

pytestmark = pytest.mark.django_db


def _member(vendor, role="owner"):
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role=role)
    client = Client()
    client.force_login(member.user)
    return client


@pytest.fixture
def shop():
    bundles = bundles_create()
    europe = Region.objects.create(code="europe", name="Europe")
    uk = Country.objects.create(iso="GB", name="United Kingdom", region=europe)
    jp = Country.objects.create(iso="JP", name="Japan")
    bundles[BUNDLE_CODE].countries.add(uk)
    bundles[TOPUP_CODE].countries.add(uk)
    Bundle.objects.filter(code=BUNDLE_CODE).update(display_name="United Kingdom 1 GB, 7 days")
    japan = Bundle.objects.create(
        code="esim_1GB_7D_JP_V2",
        provider="sandbox",
        display_name="Japan 1 GB, 7 days",
        data_mb=1000,
        validity_days=7,
        cost_amount=200,
        retail_amount=600,
        currency="USD",
    )
    japan.countries.add(jp)
    vendor = Vendor.objects.create(
        name="Roamly", status="active", currency="USD", discount_bps=1000
    )
    fund(vendor, 2_000)
    return vendor, _member(vendor)


def _review(portal: Client, **data) -> object:
    body = {"bundle_code": BUNDLE_CODE, "quantity": 2, "customer_language": "en", **data}
    return portal.post(reverse("portal:order-new"), body)


def _confirm(portal: Client, key: str, **data) -> object:
    body = {
        "bundle_code": BUNDLE_CODE,
        "quantity": 2,
        "customer_language": "en",
        "customer_reference": "",
        "customer_email": "",
        "idempotency_key": key,
        "confirm": "1",
        **data,
    }
    return portal.post(reverse("portal:order-new"), body)


def test_the_picker_searches_by_country_or_region_with_price_retail_and_margin(shop):
    _vendor, portal = shop
    page = portal.get(reverse("portal:order-new"), {"q": "united king"}).content.decode()
    assert "United Kingdom 1 GB, 7 days" in page and "Japan 1 GB" not in page
    # 4.50 retail, 10 % off: 4.05 to the vendor, 0.45 margin.
    assert "4.05 USD" in page and "4.50 USD" in page and "0.45 USD" in page
    by_region = portal.get(reverse("portal:order-new"), {"q": "Europe"}).content.decode()
    assert "United Kingdom 1 GB" in by_region and "Japan 1 GB" not in by_region
    by_iso = portal.get(reverse("portal:order-new"), {"q": "jp"}).content.decode()
    assert "Japan 1 GB" in by_iso and "United Kingdom 1 GB" not in by_iso


def test_review_shows_the_price_and_what_is_left_then_one_order_however_often_confirmed(
    shop, django_capture_on_commit_callbacks
):
    vendor, portal = shop
    review = _review(portal, customer_email="guest@example.com", customer_reference="BK-1")
    page = review.content.decode()
    assert review.status_code == 200 and "8.10 USD" in page  # 2 x 4.05
    assert "20.00 USD" in page and "11.90 USD" in page  # wallet now, left after
    assert Order.objects.count() == 0  # reviewing places nothing
    key = review.context["form"]["idempotency_key"].value()
    with django_capture_on_commit_callbacks(execute=True):
        first = _confirm(portal, key, customer_email="guest@example.com", customer_reference="BK-1")
        again = _confirm(portal, key, customer_email="guest@example.com", customer_reference="BK-1")
    order = Order.objects.get()
    assert first["Location"] == again["Location"] == reverse("portal:order", args=[order.pk])
    assert (order.quantity if hasattr(order, "quantity") else 2) == 2
    assert order.customer_reference == "BK-1" and order.end_customer_email == "guest@example.com"
    assert order.total == 810 and order.livemode is True
    assert vendor_balance(vendor=vendor).available.amount == 2_000 - 810
    # Delivered and emailed to the traveller under the vendor's brand.
    assert order.esims.count() == 2
    assert [m.to for m in mail.outbox] == [["guest@example.com"]]
    # The same key is the API's: stored under the vendor's scope, completed.
    stored = IdempotencyKey.objects.get(key=key)
    assert stored.scope == f"vendor:{vendor.pk}" and stored.status == "completed"


def test_the_order_page_shows_install_links_qr_copy_and_send_to_the_traveller(
    shop, django_capture_on_commit_callbacks
):
    _vendor, portal = shop
    with django_capture_on_commit_callbacks(execute=True):
        _confirm(portal, "k-page", quantity=1)
    order = Order.objects.get()
    esim = order.esims.get()
    page = portal.get(reverse("portal:order", args=[order.pk])).content.decode()
    assert "<svg" in page and f'id="copy-{esim.iccid}"' in page and "data-copy=" in page
    assert "Send to the traveller" in page and f"/portal/esims/{esim.iccid}/topup" in page
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        portal.post(
            reverse("portal:esim-action", args=[esim.iccid, "resend"]),
            {"email": "traveller@example.com"},
        )
    assert [m.to for m in mail.outbox] == [["traveller@example.com"]]


def test_insufficient_funds_places_nothing_and_frees_the_key(shop):
    vendor, portal = shop
    review = _review(portal, quantity=5)  # 5 x 4.05 = 20.25 > 20.00
    assert "Not enough funds" in review.content.decode()
    assert 'id="order-confirm" disabled' in review.content.decode()
    refused = _confirm(portal, "k-poor", quantity=5)
    assert refused.status_code == 400
    assert "insufficient" in refused.content.decode().lower() or "funds" in (
        refused.content.decode().lower()
    )
    assert Order.objects.count() == 0
    assert not IdempotencyKey.objects.filter(key="k-poor").exists()
    fund(vendor, 1_000)  # the same form, once the wallet is topped up, goes through
    assert _confirm(portal, "k-poor", quantity=5).status_code == 302
    assert Order.objects.count() == 1


def test_an_unknown_bundle_is_named_under_its_field_and_nothing_is_placed(shop):
    _vendor, portal = shop
    review = _review(portal, bundle_code="esim_NOPE")
    assert review.status_code == 400
    assert review.context["form"].errors["bundle_code"] == ["Bundle esim_NOPE does not exist."]
    confirm = _confirm(portal, "k-nope", bundle_code="esim_NOPE")
    assert confirm.status_code == 400 and "does not exist" in confirm.content.decode()
    bad_quantity = _review(portal, quantity=0)
    assert bad_quantity.status_code == 400 and "quantity" in bad_quantity.context["form"].errors
    assert Order.objects.count() == 0


def test_the_key_with_a_changed_order_is_refused(shop):
    _vendor, portal = shop
    assert _confirm(portal, "k-1", quantity=1).status_code == 302
    changed = _confirm(portal, "k-1", quantity=2)
    assert changed.status_code == 400 and "for another order" in changed.content.decode()
    assert Order.objects.count() == 1


def test_a_viewer_may_not_order(shop):
    vendor, _portal = shop
    viewer = _member(vendor, role="viewer")
    assert "Review the order" not in viewer.get(reverse("portal:order-new")).content.decode()
    refused = _confirm(viewer, "k-viewer")
    assert refused.status_code == 400 and "may not do this" in refused.content.decode()
    assert Order.objects.count() == 0


def test_test_mode_orders_with_play_money_and_leaves_live_alone(
    shop, django_capture_on_commit_callbacks
):
    vendor, portal = shop
    session = portal.session
    session[SESSION_KEY] = True
    session.save()
    page = portal.get(reverse("portal:order-new")).content.decode()
    assert "play money" in page
    with django_capture_on_commit_callbacks(execute=True):
        placed = _confirm(portal, "k-test", quantity=1, customer_email="guest@example.com")
    order = Order.objects.get()
    assert placed.status_code == 302 and order.livemode is False and order.vendor != vendor
    assert vendor_balance(vendor=vendor).available.amount == 2_000  # live wallet untouched
    # Live mode does not see the test order, and its key is the test environment's.
    session[SESSION_KEY] = False
    session.save()
    assert portal.get(reverse("portal:order", args=[order.pk])).status_code == 404


def test_another_vendors_order_and_esim_are_not_found(shop, django_capture_on_commit_callbacks):
    _vendor, portal = shop
    other = Vendor.objects.create(name="Other", status="active", currency="USD")
    fund(other, 2_000)
    with django_capture_on_commit_callbacks(execute=True):
        _confirm(_member(other), "k-other", quantity=1)
    order = Order.objects.get(vendor=other)
    esim = order.esims.get()
    assert portal.get(reverse("portal:order", args=[order.pk])).status_code == 404
    assert portal.get(reverse("portal:esim-topup", args=[esim.iccid])).status_code == 404
    topup = portal.post(
        reverse("portal:esim-topup", args=[esim.iccid]),
        {"bundle_code": TOPUP_CODE, "idempotency_key": "k-x", "confirm": "1"},
    )
    assert topup.status_code == 404 and Order.objects.count() == 1


def test_a_topup_shows_the_fitting_bundles_and_their_price_before_paying_once(
    shop, django_capture_on_commit_callbacks
):
    vendor, portal = shop
    with django_capture_on_commit_callbacks(execute=True):
        _confirm(portal, "k-esim", quantity=1)
    esim = Esim.objects.get()
    url = reverse("portal:esim-topup", args=[esim.iccid])
    offers = portal.get(url).content.decode()
    assert TOPUP_CODE in offers and "5.85 USD" in offers  # 6.50 less 10 %
    assert "Japan" not in offers  # does not cover the eSIM's country
    review = portal.post(url, {"bundle_code": TOPUP_CODE})
    assert "5.85 USD" in review.content.decode() and Order.objects.count() == 1
    key = review.context["confirm"]["idempotency_key"].value()
    with django_capture_on_commit_callbacks(execute=True):
        first = portal.post(
            url, {"bundle_code": TOPUP_CODE, "idempotency_key": key, "confirm": "1"}
        )
        again = portal.post(
            url, {"bundle_code": TOPUP_CODE, "idempotency_key": key, "confirm": "1"}
        )
    topup = Order.objects.get(kind="topup")
    assert first["Location"] == again["Location"] == reverse("portal:order", args=[topup.pk])
    assert topup.target_iccid == esim.iccid and topup.total == 585
    # A bundle that does not fit is refused before any price is offered.
    wrong = portal.post(url, {"bundle_code": "esim_1GB_7D_JP_V2"})
    assert wrong.status_code == 400 and Order.objects.filter(kind="topup").count() == 1
    # A viewer sees the offers but cannot buy.
    viewer = _member(vendor, role="viewer")
    refused = viewer.post(
        url, {"bundle_code": TOPUP_CODE, "idempotency_key": "k-v", "confirm": "1"}
    )
    assert refused.status_code == 403 and Order.objects.filter(kind="topup").count() == 1


def test_the_catalogue_shows_human_names_once_retail_margin_and_the_discount_tier(shop):
    _vendor, portal = shop
    page = portal.get(reverse("portal:catalogue"), {"country": "JP"}).content.decode()
    assert page.count("Japan 1 GB, 7 days") == 1
    # 6.00 retail, 10 % off: 5.40 to the vendor, 0.60 margin; the tier's discount shown.
    assert "5.40 USD" in page and "6.00 USD" in page and "0.60 USD" in page
    assert "10 % off the recommended retail price" in page
