"""Full flows through the public API with the sandbox provider and sandbox payments."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from django.core import mail
from PIL import Image

from billing.selectors import vendor_balance
from fulfilment.models import Esim
from ledger.models import Hold, Transaction
from orders.models import Order, OrderEvent
from payments.models import Payment
from sandbox.models import SandboxOrder
from tests.orders.factories import BUNDLE_CODE, RETAIL, TOPUP_CODE
from tests.orders.helpers import (
    assert_ledger_sound,
    buy_b2b,
    buy_b2c,
    hold_status,
    pay,
    post,
)

pytestmark = pytest.mark.django_db


def test_b2c_buy_pay_completes_with_scannable_qr_and_email(
    customer, bundles, django_capture_on_commit_callbacks
):
    order = buy_b2c(customer, django_capture_on_commit_callbacks, quantity=2)
    assert order["status"] == "awaiting_payment"
    assert order["total"] == {"amount": "9.00", "currency": "USD"}
    assert order["payment"]["client_secret"]
    assert order["esims"] == []
    assert len(mail.outbox) == 0

    pay(customer, django_capture_on_commit_callbacks, order)

    done = customer.get(f"/api/v1/orders/{order['id']}").json()
    assert done["status"] == "completed"
    assert len(done["esims"]) == 2
    esim = done["esims"][0]
    assert esim["lpa"] == f"LPA:1${esim['smdp_address']}${esim['matching_id']}"
    assert esim["activation"]["ios_url"].startswith("https://esimsetup.apple.com/")
    assert esim["data"] == {"initial_mb": 1000, "remaining_mb": 1000, "unlimited": False}

    qr = customer.get(f"/api/v1/esims/{esim['iccid']}/qr")
    assert qr.status_code == 200
    assert qr["Content-Type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.content)))
    assert [d.text for d in decoded] == [esim["lpa"]]

    as_json = customer.get(f"/api/v1/esims/{esim['iccid']}/qr", HTTP_ACCEPT="application/json")
    assert as_json.status_code == 200
    assert as_json["Content-Type"] == "image/png"
    assert as_json.content == qr.content

    svg = customer.get(f"/api/v1/esims/{esim['iccid']}/qr?format=svg")
    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml"
    assert svg.content.lstrip().startswith(b"<?xml") or b"<svg" in svg.content[:300]

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [customer.user.email]
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    for e in done["esims"]:
        assert f"cid:qr-{e['iccid']}" in html
        assert e["matching_id"] in message.body
    images = [a for a in message.attachments if a.get_content_type() == "image/png"]
    assert len(images) == 2
    scanned = {
        zxingcpp.read_barcodes(Image.open(io.BytesIO(img.get_payload(decode=True))))[0].text
        for img in images
    }
    assert scanned == {e["lpa"] for e in done["esims"]}

    # money: paid, cost recorded, ledger balanced; exactly one provider order
    assert Transaction.objects.filter(reference=f"order:{order['id']}:cost").count() == 1
    assert SandboxOrder.objects.filter(client_reference=f"ttelgo-order-{order['id']}").count() == 1
    statuses = list(
        OrderEvent.objects.filter(order_id=order["id"]).values_list("to_status", flat=True)
    )
    assert statuses == ["awaiting_payment", "paid", "provisioning", "completed"]
    assert_ledger_sound()


def test_customer_lists_show_own_orders_and_esims(
    customer, bundles, django_capture_on_commit_callbacks
):
    first = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, first)
    buy_b2c(customer, django_capture_on_commit_callbacks)
    orders = customer.get("/api/v1/orders").json()
    assert orders["count"] == 2
    assert [o["status"] for o in orders["results"]] == ["awaiting_payment", "completed"]
    esims = customer.get("/api/v1/esims").json()
    assert esims["count"] == 1
    assert esims["results"][0]["order_id"] == first["id"]


def test_b2b_prepaid_order_reserves_then_captures(
    prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    before = vendor_balance(vendor=prepaid_vendor.vendor)
    response = buy_b2b(
        prepaid_vendor, django_capture_on_commit_callbacks, quantity=3, customer_reference="c-42"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "provisioning"  # reserved; provisioning ran after the commit
    assert body["customer_reference"] == "c-42"
    assert "payment" not in body

    done = prepaid_vendor.get(f"/api/v1/vendor/orders/{body['id']}").json()
    assert done["status"] == "completed"
    assert len(done["esims"]) == 3
    assert hold_status(body["id"]) == Hold.Status.CAPTURED
    after = vendor_balance(vendor=prepaid_vendor.vendor)
    assert before.balance.amount - after.balance.amount == 3 * RETAIL[BUNDLE_CODE]
    assert after.reserved.amount == 0
    assert Transaction.objects.filter(reference=f"order:{body['id']}:cost").count() == 1
    assert_ledger_sound()


def test_b2b_order_that_drains_the_wallet_sends_low_balance_once(
    prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    from vendors.models import Vendor
    from webhooks.models import WebhookEvent

    vendor = prepaid_vendor.vendor
    available = vendor_balance(vendor=vendor).available.amount
    # Below the threshold after one order, not before it.
    Vendor.objects.filter(pk=vendor.pk).update(
        low_balance_threshold=available - RETAIL[BUNDLE_CODE] + 1
    )
    for _ in range(2):
        response = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks, quantity=1)
        assert response.status_code == 201, response.content
    events = WebhookEvent.objects.filter(vendor=vendor, type="wallet.low_balance")
    assert events.count() == 1


def test_b2b_orders_rearm_the_low_balance_alert_after_a_topup_and_fire_it_again(
    prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    from billing import services as ledger
    from ttelgo.money import Money
    from vendors.models import Vendor
    from webhooks.models import WebhookEvent

    vendor = prepaid_vendor.vendor
    price = RETAIL[BUNDLE_CODE]
    start = vendor_balance(vendor=vendor).available.amount
    Vendor.objects.filter(pk=vendor.pk).update(low_balance_threshold=start - price + 1)

    def order_and_alerts() -> int:
        response = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks, quantity=1)
        assert response.status_code == 201, response.content
        return WebhookEvent.objects.filter(vendor=vendor, type="wallet.low_balance").count()

    assert order_and_alerts() == 1  # start - price: below the threshold, fires
    ledger.vendor_wallet_topup_credit(
        vendor=vendor, amount=Money(3 * price, vendor.currency), reference="rearm-topup"
    )
    assert order_and_alerts() == 1  # start + price: above, the order re-arms the alert
    assert Vendor.objects.get(pk=vendor.pk).low_balance_alerted_at is None
    assert order_and_alerts() == 1  # start: still above
    assert order_and_alerts() == 2  # start - price: below again, fires again


def test_b2b_postpaid_order_draws_on_credit_line(
    postpaid_vendor, bundles, django_capture_on_commit_callbacks
):
    response = buy_b2b(postpaid_vendor, django_capture_on_commit_callbacks, quantity=2)
    assert response.status_code == 201, response.content
    order_id = response.json()["id"]
    assert Order.objects.get(pk=order_id).status == "completed"
    assert hold_status(order_id) == Hold.Status.CAPTURED
    balance = vendor_balance(vendor=postpaid_vendor.vendor)
    assert balance.billing_mode == "postpaid"
    assert balance.available.amount == 100_000 - 2 * RETAIL[BUNDLE_CODE]
    assert_ledger_sound()


def test_b2b_postpaid_invoice_lines_name_the_bundle(
    postpaid_vendor, bundles, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from billing.invoicing import invoice_close_month

    response = buy_b2b(postpaid_vendor, django_capture_on_commit_callbacks, quantity=1)
    assert response.status_code == 201, response.content
    now = timezone.now()
    next_month = (now.replace(day=28) + timedelta(days=5)).replace(day=2)
    with time_machine.travel(next_month):
        invoice = invoice_close_month(vendor=postpaid_vendor.vendor, year=now.year, month=now.month)
    codes = {line.bundle_code for line in invoice.lines.all() if line.bundle_code}
    assert codes == {BUNDLE_CODE}


def test_b2b_prepaid_without_funds_is_402_and_creates_nothing(
    prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    response = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks, quantity=5)
    assert response.status_code == 201  # 22.50 of the 1000.00 wallet
    poor = prepaid_vendor.vendor
    from billing.services import vendor_adjustment
    from ttelgo.money import Money

    balance = vendor_balance(vendor=poor).available.amount
    vendor_adjustment(vendor=poor, amount=Money(-(balance - 100), "USD"), reason="test", actor=None)
    orders_before = Order.objects.count()
    response = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks, quantity=1)
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert Order.objects.count() == orders_before
    assert Hold.objects.filter(status=Hold.Status.PENDING).count() == 0


def test_b2b_postpaid_over_credit_line_is_402_and_creates_nothing(
    postpaid_vendor, bundles, django_capture_on_commit_callbacks
):
    from tests.orders.factories import credit_line

    credit_line(postpaid_vendor.vendor, 500)
    response = buy_b2b(postpaid_vendor, django_capture_on_commit_callbacks, quantity=2)
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "credit_limit_exceeded"
    assert Order.objects.count() == 0
    assert SandboxOrder.objects.count() == 0


def test_suspended_vendor_cannot_order_but_can_read(
    prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    from vendors.models import Vendor

    Vendor.objects.filter(pk=prepaid_vendor.vendor.pk).update(status=Vendor.Status.SUSPENDED)
    response = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "vendor_not_active"
    assert prepaid_vendor.get("/api/v1/vendor/orders").status_code == 200
    assert Order.objects.count() == 0


def test_vendor_with_overdue_invoice_cannot_order(
    postpaid_vendor, bundles, django_capture_on_commit_callbacks, settings
):
    from datetime import date, timedelta

    from billing.models import Invoice

    settings.SUSPEND_ORDERING_WHEN_OVERDUE = True
    today = date.today()
    from billing.services import vendor_account

    Invoice.objects.create(
        vendor=postpaid_vendor.vendor,
        account=vendor_account(vendor=postpaid_vendor.vendor),
        opening_balance=0,
        closing_balance=1000,
        period_start=today - timedelta(days=60),
        period_end=today - timedelta(days=31),
        due_date=today - timedelta(days=1),
        currency="USD",
        total=1000,
        status=Invoice.Status.ISSUED,
    )
    response = buy_b2b(postpaid_vendor, django_capture_on_commit_callbacks)
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reason"] == "overdue_invoices"
    assert Order.objects.count() == 0


def test_b2c_topup_pays_and_adds_the_bundle_to_the_same_esim(
    customer, bundles, django_capture_on_commit_callbacks
):
    order = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, order)
    iccid = customer.get(f"/api/v1/orders/{order['id']}").json()["esims"][0]["iccid"]

    with django_capture_on_commit_callbacks(execute=True):
        response = post(customer, f"/api/v1/esims/{iccid}/topups", {"bundle_code": TOPUP_CODE})
    assert response.status_code == 201, response.content
    topup = response.json()
    assert topup["kind"] == "topup"
    assert topup["status"] == "awaiting_payment"
    assert topup["target_iccid"] == iccid
    assert topup["total"] == {"amount": "6.50", "currency": "USD"}
    pay(customer, django_capture_on_commit_callbacks, topup)

    assert Order.objects.get(pk=topup["id"]).status == "completed"
    esim = customer.get(f"/api/v1/esims/{iccid}").json()
    assert esim["bundle_code"] == TOPUP_CODE
    assert esim["data"]["initial_mb"] == 3000
    assert Esim.objects.count() == 1  # no new eSIM
    assert SandboxOrder.objects.filter(kind="topup", esims__isnull=True).count() == 1
    usage = customer.get(f"/api/v1/esims/{iccid}/usage").json()
    assert usage["initial_mb"] == 3000
    assert usage["used_mb"] + usage["remaining_mb"] == usage["initial_mb"]
    assert usage["updated_at"] is not None
    assert_ledger_sound()


def test_b2b_topup_reserves_and_applies(
    prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    order_id = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()["id"]
    iccid = Esim.objects.get(order_id=order_id).iccid
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            prepaid_vendor, f"/api/v1/vendor/esims/{iccid}/topups", {"bundle_code": TOPUP_CODE}
        )
    assert response.status_code == 201, response.content
    topup_id = response.json()["id"]
    assert Order.objects.get(pk=topup_id).status == "completed"
    assert hold_status(topup_id) == Hold.Status.CAPTURED
    assert prepaid_vendor.get(f"/api/v1/vendor/esims/{iccid}").json()["data"]["initial_mb"] == 3000
    assert_ledger_sound()


def test_cancel_while_awaiting_payment_cancels_the_intent(
    customer, bundles, django_capture_on_commit_callbacks
):
    order = buy_b2c(customer, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = customer.post(f"/api/v1/orders/{order['id']}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert Payment.objects.get(order_id=order["id"]).status == Payment.Status.CANCELED
    again = customer.post(f"/api/v1/orders/{order['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_state"


def test_cancel_after_payment_is_409(customer, bundles, django_capture_on_commit_callbacks):
    order = buy_b2c(customer, django_capture_on_commit_callbacks)
    pay(customer, django_capture_on_commit_callbacks, order)
    response = customer.post(f"/api/v1/orders/{order['id']}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_state"
    assert Order.objects.get(pk=order["id"]).status == "completed"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"bundle_code": BUNDLE_CODE, "quantity": 0}, 400, "validation_error"),
        ({"bundle_code": BUNDLE_CODE, "quantity": 11}, 400, "validation_error"),
        ({"bundle_code": BUNDLE_CODE}, 400, "validation_error"),
        ({"bundle_code": "no_such_bundle", "quantity": 1}, 404, "not_found"),
    ],
)
def test_bad_order_requests_get_precise_errors(customer, bundles, body, status, code):
    response = post(customer, "/api/v1/orders", body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert Order.objects.count() == 0


def test_hidden_bundle_is_unavailable(customer, bundles):
    bundles[BUNDLE_CODE].hidden = True
    bundles[BUNDLE_CODE].save()
    response = post(customer, "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "bundle_unavailable"


def test_order_creation_requires_an_idempotency_key(customer, bundles):
    response = customer.post(
        "/api/v1/orders", {"bundle_code": BUNDLE_CODE, "quantity": 1}, format="json"
    )
    assert response.status_code == 400
    assert Order.objects.count() == 0


def test_a_topup_the_esim_cannot_take_is_refused_before_any_money_moves(
    prepaid_vendor, bundles, django_capture_on_commit_callbacks
):
    """A Japan bundle on a UK eSIM: the provider says it does not fit, so the top-up is a
    409 `bundle_incompatible` and no order, hold or provider call to buy is made."""
    from catalogue.models import Bundle

    Bundle.objects.create(
        code="esim_2GB_7D_JP_V2", provider="sandbox", provider_description="Japan 2GB",
        data_mb=2000, validity_days=7, cost_amount=300, retail_amount=700, currency="USD",
    )  # fmt: skip
    order_id = buy_b2b(prepaid_vendor, django_capture_on_commit_callbacks).json()["id"]
    iccid = Esim.objects.get(order_id=order_id).iccid
    orders_before = Order.objects.count()
    balance_before = vendor_balance(vendor=Order.objects.get(pk=order_id).vendor)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            prepaid_vendor,
            f"/api/v1/vendor/esims/{iccid}/topups",
            {"bundle_code": "esim_2GB_7D_JP_V2"},
        )
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "bundle_incompatible"
    assert error["details"] == {"iccid": iccid, "bundle_code": "esim_2GB_7D_JP_V2"}
    assert Order.objects.count() == orders_before
    assert vendor_balance(vendor=Order.objects.get(pk=order_id).vendor) == balance_before
    assert not SandboxOrder.objects.filter(kind="topup").exists()
