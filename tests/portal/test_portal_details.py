"""The portal's details: times in the vendor's zone with the zone named, orders shown by
public ids rather than one counter shared by test and live, test-mode traveller emails
kept in the test outbox instead of sent, and the catalogue and webhook niceties."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from fulfilment import models as fulfilment_models
from orders.models import Order
from portal.modes import SESSION_KEY
from portal.public_ids import order_pk_from_public_id, order_public_id
from tests.factories import UserFactory
from tests.orders.factories import BUNDLE_CODE, fund
from tests.webhooks.factories import PUBLIC_URL
from ttelgo.models import AuditLog
from vendors.models import Vendor, VendorAPIKey, VendorUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(bundles):
    vendor = Vendor.objects.create(name="Roamly", status="active", currency="USD")
    fund(vendor, 5_000)
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="owner")
    client = Client()
    client.force_login(member.user)
    return vendor, client


def _test_mode(portal: Client, on: bool = True) -> None:
    session = portal.session
    session[SESSION_KEY] = on
    session.save()


def _order(portal: Client, key: str, **data: str) -> Order:
    body = {
        "bundle_code": BUNDLE_CODE,
        "quantity": 1,
        "customer_language": "en",
        "customer_reference": "",
        "customer_email": "",
        "idempotency_key": key,
        "confirm": "1",
        **data,
    }
    placed = portal.post(reverse("portal:order-new"), body)
    assert placed.status_code == 302, placed.content.decode()[:2000]
    pk = order_pk_from_public_id(placed["Location"].rsplit("/", 1)[1])
    assert pk is not None
    return Order.objects.get(pk=pk)


# --- times in the vendor's zone ---------------------------------------------------------


def test_times_are_in_utc_by_default_and_in_the_zone_the_vendor_picks_named(shop):
    vendor, portal = shop
    key = VendorAPIKey.objects.create_key(name="site", vendor=vendor)[0]
    VendorAPIKey.objects.filter(pk=key.pk).update(created=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    page = portal.get(reverse("portal:api-keys")).content.decode()
    assert "2026-07-01 12:00 UTC" in page
    saved = portal.post(reverse("portal:timezone"), {"timezone": "Europe/Madrid"}, follow=True)
    assert saved.redirect_chain == [(reverse("portal:brand"), 302)]  # post/redirect/get
    assert "Times are shown in Europe/Madrid." in saved.content.decode()
    vendor.refresh_from_db()
    assert vendor.timezone == "Europe/Madrid"
    assert AuditLog.objects.filter(action="vendor.timezone_set").exists()
    page = portal.get(reverse("portal:api-keys")).content.decode()
    # 12:00 UTC is 14:00 in Madrid in July (CEST), and the zone is named.
    assert "2026-07-01 14:00 Europe/Madrid" in page and "12:00 UTC" not in page
    assert 'datetime="2026-07-01T12:00:00+00:00"' in page  # the instant, exactly


def test_test_mode_shows_times_in_the_live_vendors_zone(shop):
    vendor, portal = shop
    Vendor.objects.filter(pk=vendor.pk).update(timezone="Asia/Tokyo")
    _test_mode(portal)
    _order(portal, "k-tz")
    page = portal.get(reverse("portal:orders")).content.decode()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d Asia/Tokyo", page)


def test_an_unknown_zone_is_refused_and_nothing_changes(shop):
    vendor, portal = shop
    refused = portal.post(reverse("portal:timezone"), {"timezone": "Mars/Olympus"}, follow=True)
    assert "Choose a time zone from the list." in refused.content.decode()
    vendor.refresh_from_db()
    assert vendor.timezone == "UTC"


def test_a_viewer_may_not_change_the_zone(shop):
    vendor, _portal = shop
    viewer = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="viewer")
    client = Client()
    client.force_login(viewer.user)
    client.post(reverse("portal:timezone"), {"timezone": "Europe/Paris"})
    vendor.refresh_from_db()
    assert vendor.timezone == "UTC"


# --- public order ids ---------------------------------------------------------------------


def test_public_ids_round_trip_and_neighbours_look_unrelated():
    ids = [order_public_id(pk) for pk in range(1, 2001)]
    assert all(re.fullmatch(r"ord_[0-9a-z]{13}", i) for i in ids)
    assert len(set(ids)) == 2000
    assert [order_pk_from_public_id(i) for i in ids] == list(range(1, 2001))
    assert order_pk_from_public_id(order_public_id(2**40 + 7)) == 2**40 + 7
    # Consecutive orders do not share a visible prefix or order.
    assert sorted(ids) != ids and len({i[:6] for i in ids[:50]}) > 25
    for bad in ("ord_", "ord_!!!!!!!!!!!!!", "12", "ord_" + "z" * 13, "ord_" + "i" * 13):
        assert order_pk_from_public_id(bad) is None


def test_test_and_live_orders_show_public_ids_not_one_shared_counter(shop):
    _vendor, portal = shop
    live = _order(portal, "k-live")
    _test_mode(portal)
    test = _order(portal, "k-test")
    assert test.pk == live.pk + 1  # one table, one sequence: the portal must not show it
    page = portal.get(reverse("portal:orders")).content.decode()
    assert order_public_id(test.pk) in page
    assert f"#{test.pk}<" not in page and f">{test.pk}<" not in page
    detail = portal.get(reverse("portal:order", args=[test.pk]))
    assert detail.request["PATH_INFO"] == f"/portal/orders/{order_public_id(test.pk)}"
    assert detail.status_code == 200 and f"Order #{test.pk}" not in detail.content.decode()
    # The old counter URL is gone; another mode's order is not found by its id either.
    assert portal.get(f"/portal/orders/{test.pk}").status_code == 404
    assert portal.get(reverse("portal:order", args=[live.pk])).status_code == 404
    # The API keeps its integer ids (its contract).
    assert portal.get(reverse("portal:orders")).status_code == 200


# --- test mode's outbox --------------------------------------------------------------------


def test_a_test_order_emails_nobody_and_the_email_is_in_the_test_outbox(
    shop, django_capture_on_commit_callbacks
):
    _vendor, portal = shop
    _test_mode(portal)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        order = _order(portal, "k-out", customer_email="real.traveller@example.com")
    order.refresh_from_db()
    assert order.livemode is False and order.status == "completed"
    assert mail.outbox == []  # no real traveller hears from a test order
    kept = fulfilment_models.TestModeEmail.objects.get()
    assert kept.to == "real.traveller@example.com" and kept.order_id == order.pk
    assert kept.livemode is False and kept.vendor_id == order.vendor_id
    assert "eSIM" in kept.subject and kept.body
    # "Send to the traveller" from the order page: kept too, and the page says so.
    esim = order.esims.get()
    with django_capture_on_commit_callbacks(execute=True):
        sent = portal.post(
            reverse("portal:esim-action", args=[esim.iccid, "resend"]),
            {"email": "another@example.com"},
            follow=True,
        )
    assert "kept in the test outbox, not sent" in sent.content.decode()
    assert mail.outbox == [] and fulfilment_models.TestModeEmail.objects.count() == 2
    page = portal.get(reverse("portal:test-outbox")).content.decode()
    assert "real.traveller@example.com" in page and "another@example.com" in page
    assert kept.subject in page and "not sent" in page and order_public_id(order.pk) in page


def test_live_orders_still_email_the_traveller_and_live_mode_has_no_outbox(
    shop, django_capture_on_commit_callbacks
):
    _vendor, portal = shop
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _order(portal, "k-live-mail", customer_email="guest@example.com")
    assert [m.to for m in mail.outbox] == [["guest@example.com"]]
    assert not fulfilment_models.TestModeEmail.objects.exists()
    page = portal.get(reverse("portal:test-outbox")).content.decode()
    assert 'id="live-mode-no-outbox"' in page


def test_one_vendors_test_outbox_is_not_anothers(shop, django_capture_on_commit_callbacks):
    _vendor, portal = shop
    _test_mode(portal)
    with django_capture_on_commit_callbacks(execute=True):
        _order(portal, "k-mine", customer_email="mine@example.com")
    other = Vendor.objects.create(name="Other", status="active", currency="USD")
    member = VendorUser.objects.create(vendor=other, user=UserFactory(), role="owner")
    client = Client()
    client.force_login(member.user)
    _test_mode(client)
    assert "mine@example.com" not in client.get(reverse("portal:test-outbox")).content.decode()


# --- catalogue and webhooks for a new vendor ---------------------------------------------------


def test_a_new_vendor_sees_its_tier_and_webhooks_read_plainly(shop):
    _vendor, portal = shop
    page = portal.get(reverse("portal:catalogue")).content.decode()
    assert "your tier (Standard) is 0 % off the recommended retail price" in page
    created = portal.post(
        reverse("portal:webhooks"), {"url": PUBLIC_URL, "events": ["*"]}
    ).content.decode()
    assert 'id="secret-copy"' in created and "data-copy=" in created
    assert "all events" in created


# --- receipts for wallet top-ups ------------------------------------------------------------


def test_every_wallet_top_up_gets_a_receipt_by_email_and_as_a_pdf(
    shop, django_capture_on_commit_callbacks
):
    vendor, portal = shop
    Vendor.objects.filter(pk=vendor.pk).update(billing_email="accounts@roamly.example")
    _test_mode(portal)
    go = portal.post(reverse("portal:wallet-topup"), {"amount": "25.00"})
    payment_id = int(go["Location"].rstrip("/").split("/")[-1])
    # Not paid yet: no receipt.
    assert portal.get(reverse("portal:payment-receipt", args=[payment_id])).status_code == 404
    assert 'id="receipt-download"' not in portal.get(go["Location"]).content.decode()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        portal.post(reverse("portal:payment-test-card", args=[payment_id, "pay"]))
    [email] = mail.outbox
    assert email.to == ["accounts@roamly.example"]
    assert email.subject == "Receipt for your wallet top-up of 25.00 USD (test mode)"
    [(filename, pdf, kind)] = email.attachments
    assert kind == "application/pdf" and pdf.startswith(b"%PDF") and filename.endswith("-test.pdf")
    page = portal.get(go["Location"]).content.decode()
    assert 'id="receipt-download"' in page
    download = portal.get(reverse("portal:payment-receipt", args=[payment_id]))
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert download.content.startswith(b"%PDF") and filename in download["Content-Disposition"]
    billing = portal.get(reverse("portal:billing")).content.decode()
    assert f'id="receipt-{payment_id}"' in billing and "25.00 USD" in billing
    # Another vendor does not reach it.
    other = Vendor.objects.create(name="Other", status="active", currency="USD")
    member = VendorUser.objects.create(vendor=other, user=UserFactory(), role="owner")
    client = Client()
    client.force_login(member.user)
    _test_mode(client)
    assert client.get(reverse("portal:payment-receipt", args=[payment_id])).status_code == 404


def test_the_receipt_pdf_names_the_vendor_and_the_amount(shop):
    from payments.models import Payment
    from payments.receipts import topup_receipt_pdf

    vendor, _portal = shop
    payment = Payment.objects.create(
        kind=Payment.Kind.WALLET_TOPUP,
        payment_intent_id="pi_receipt_1",
        amount=12_345,
        currency="USD",
        status=Payment.Status.SUCCEEDED,
        vendor=vendor,
        succeeded_at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
    )
    pdf = topup_receipt_pdf(payment=payment)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    payment.status = Payment.Status.PENDING
    with pytest.raises(ValueError):
        topup_receipt_pdf(payment=payment)
