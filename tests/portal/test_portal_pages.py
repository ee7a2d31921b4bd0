"""The portal's orders, eSIMs, catalogue, billing and request-log pages, as a vendor's
staff use them: filters that validate in place, CSV exports, an order's timeline and
eSIMs with their QR codes, top-ups and resends, card top-ups through the test gateway,
invoices as PDF and CSV, and who may do what."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.accounts import vendor_ledger_account
from billing.models import Invoice
from billing.selectors import vendor_balance
from catalogue.models import Bundle, Country, Region
from orders.models import Order
from portal.public_ids import order_public_id
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, TOPUP_CODE, bundles_create, fund
from ttelgo.money import Money
from vendors.models import Vendor, VendorUser
from vendors.services import api_key_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(django_capture_on_commit_callbacks):
    bundles_create()
    vendor = Vendor.objects.create(name="Roamly", status="active", currency="USD")
    fund(vendor, 20_000)
    _key, raw = api_key_issue(vendor=vendor, name="live")
    api = Client(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    with django_capture_on_commit_callbacks(execute=True):
        placed = api.post(
            "/api/v1/vendor/orders",
            json.dumps(
                {
                    "bundle_code": BUNDLE_CODE,
                    "quantity": 1,
                    "customer_reference": "BK-77",
                    "customer_email": "guest@example.com",
                }
            ),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="p1",
        )
    assert placed.status_code == 201
    order = Order.objects.get(pk=placed.json()["id"])
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="owner")
    portal = Client()
    portal.force_login(member.user)
    return vendor, order, portal


def _csv(response) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_orders_list_filters_exports_and_shows_an_order_with_its_esim(
    shop, django_capture_on_commit_callbacks
):
    vendor, order, portal = shop
    page = portal.get(reverse("portal:orders")).content.decode()
    assert order_public_id(order.pk) in page and "BK-77" in page
    assert (
        "BK-77" not in portal.get(reverse("portal:orders"), {"status": "failed"}).content.decode()
    )
    bad = portal.get(reverse("portal:orders"), {"start": "2026-02-01", "end": "2026-01-01"})
    assert bad.status_code == 400 and "The end is before the start." in bad.content.decode()
    rows = _csv(
        portal.get(reverse("portal:orders"), {"format": "csv", "customer_reference": "BK-77"})
    )
    esim = order.esims.get()
    assert [(r["id"], r["status"], r["iccids"], r["total"]) for r in rows] == [
        (str(order.pk), "completed", esim.iccid, "4.50")
    ]
    esim_rows = _csv(portal.get(reverse("portal:esims"), {"format": "csv", "status": "released"}))
    assert [(r["iccid"], r["order_id"], r["customer_reference"]) for r in esim_rows] == [
        (esim.iccid, str(order.pk), "BK-77")
    ]
    assert (
        esim.iccid
        not in portal.get(reverse("portal:esims"), {"status": "expired"}).content.decode()
    )
    wrong = portal.get(reverse("portal:esims"), {"iccid": "12ab"})
    assert wrong.status_code == 400 and "18 to 22 digits." in wrong.content.decode()
    detail = portal.get(reverse("portal:order", args=[order.pk])).content.decode()
    assert esim.lpa in detail and "<svg" in detail and 'id="timeline"' in detail
    assert "provisioning" in detail and "completed" in detail
    # Resend the delivery email, and top up the eSIM (paid from the wallet).
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        portal.post(reverse("portal:esim-action", args=[esim.iccid, "resend"]), {"email": ""})
    assert [m.to for m in mail.outbox] == [["guest@example.com"]]
    # A top-up is shown at its price first; the confirm form pays it.
    url = reverse("portal:esim-topup", args=[esim.iccid])
    Bundle.objects.get(code=TOPUP_CODE).countries.add(
        Country.objects.create(iso="GB", name="United Kingdom")
    )
    Bundle.objects.get(code=BUNDLE_CODE).countries.add(Country.objects.get(iso="GB"))
    review = portal.post(url, {"bundle_code": TOPUP_CODE})
    assert "6.50 USD" in review.content.decode() and not Order.objects.filter(kind="topup")
    key = review.context["confirm"]["idempotency_key"].value()
    with django_capture_on_commit_callbacks(execute=True):
        topup = portal.post(url, {"bundle_code": TOPUP_CODE, "idempotency_key": key, "confirm": 1})
    topped = Order.objects.get(kind="topup", vendor=vendor)
    assert topup["Location"] == reverse("portal:order", args=[topped.pk])
    assert topped.status == "completed" and topped.target_iccid == esim.iccid
    # A viewer may look but not act.
    viewer = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="viewer")
    as_viewer = Client()
    as_viewer.force_login(viewer.user)
    answer = as_viewer.post(
        url, {"bundle_code": TOPUP_CODE, "idempotency_key": "k2", "confirm": 1}, follow=True
    )
    assert "may not do this" in answer.content.decode()
    assert Order.objects.filter(kind="topup").count() == 1


def test_catalogue_shows_the_vendors_prices_by_country_and_exports_them(shop):
    vendor, _order, portal = shop
    Vendor.objects.filter(pk=vendor.pk).update(discount_bps=1000)  # 10 % off
    europe = Region.objects.create(code="europe", name="Europe")
    Bundle.objects.get(code=BUNDLE_CODE).countries.add(
        Country.objects.create(iso="GB", name="United Kingdom", region=europe)
    )
    rows = _csv(portal.get(reverse("portal:catalogue"), {"country": "gb", "format": "csv"}))
    prices = {r["code"]: r["price"] for r in rows}
    assert prices[BUNDLE_CODE] == "4.05"  # 4.50 less 10 %
    assert portal.get(reverse("portal:catalogue"), {"country": "GBR"}).status_code == 400
    assert (
        BUNDLE_CODE
        not in portal.get(reverse("portal:catalogue"), {"country": "JP"}).content.decode()
    )


def test_billing_statement_range_csv_and_a_card_topup_in_test_mode(
    shop, django_capture_on_commit_callbacks
):
    vendor, order, portal = shop
    today = timezone.now().date().isoformat()
    rows = _csv(
        portal.get(reverse("portal:billing"), {"start": today, "end": today, "format": "csv"})
    )
    assert [r["amount"] for r in rows] == ["-4.50", "200.00"]
    assert rows[0]["order_id"] == str(order.pk)
    assert _csv(portal.get(reverse("portal:billing"), {"end": "2020-01-01", "format": "csv"})) == []
    # Test mode: the test wallet, topped up by card at the test gateway.
    portal.post(reverse("portal:mode"), {"mode": "test"})
    page = portal.get(reverse("portal:billing")).content.decode()
    assert 'id="test-mode-bar"' in page and "1,000.00 USD" in page
    go = portal.post(reverse("portal:wallet-topup"), {"amount": "25.00"})
    payment_url = go["Location"]
    assert "test card" in portal.get(payment_url).content.decode()
    payment_id = int(payment_url.rstrip("/").split("/")[-1])
    with django_capture_on_commit_callbacks(execute=True):
        portal.post(reverse("portal:payment-test-card", args=[payment_id, "pay"]))
    environment = Vendor.objects.get(live_vendor=vendor)
    assert vendor_balance(vendor=environment).available == Money(102_500, "USD")
    assert vendor_balance(vendor=vendor).available == Money(19_550, "USD")  # live untouched
    negative = portal.post(reverse("portal:wallet-topup"), {"amount": "-3"})
    assert negative.status_code == 400 and "greater than or equal to 1" in negative.content.decode()
    # Refill: back up to the play-money amount.
    portal.post(reverse("portal:test-wallet-refill"))
    assert vendor_balance(vendor=environment).available == Money(102_500, "USD")  # already above


def test_a_postpaid_vendors_invoices_download_as_pdf_and_csv():
    vendor = Vendor.objects.create(
        name="Credit Co", status="active", currency="USD", billing_mode="postpaid"
    )
    today = timezone.now().date()
    invoice = Invoice.objects.create(
        vendor=vendor,
        account=vendor_ledger_account(vendor=vendor),
        period_start=today,
        period_end=today,
        currency="USD",
        total=1234,
        opening_balance=0,
        closing_balance=1234,
        due_date=today,
    )
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="finance")
    portal = Client()
    portal.force_login(member.user)
    assert invoice.number in portal.get(reverse("portal:billing")).content.decode()
    pdf = portal.get(reverse("portal:invoice-download", args=[invoice.pk, "pdf"]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert (
        portal.get(reverse("portal:invoice-download", args=[invoice.pk, "csv"])).status_code == 200
    )
    assert (
        portal.get(reverse("portal:invoice-download", args=[invoice.pk, "xls"])).status_code == 404
    )
    pay = portal.post(reverse("portal:invoice-pay", args=[invoice.pk]))
    assert pay.status_code == 302 and "/billing/payments/" in pay["Location"]
