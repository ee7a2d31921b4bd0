"""Balance, ledger statement and invoices of the vendor API (read from the ledger)."""

import csv
import io

from django.utils import timezone

from billing import services as ledger
from ttelgo.money import Money
from vendors.services import vendor_credit_limit_change


def test_prepaid_balance_and_statement_with_balance_after(vendor_api):
    vendor = vendor_api.vendor
    ledger.vendor_wallet_topup_credit(vendor=vendor, amount=Money(5000, "USD"), reference="t:1")
    ledger.vendor_wallet_topup_credit(vendor=vendor, amount=Money(2500, "USD"), reference="t:2")
    ledger.vendor_adjustment(vendor=vendor, amount=Money(-500, "USD"), reason="fee", actor=None)

    balance = vendor_api.get("/api/v1/vendor/balance").json()
    assert balance == {
        "billing_mode": "prepaid",
        "currency": "USD",
        "balance": {"amount": "70.00", "currency": "USD"},
        "reserved": {"amount": "0.00", "currency": "USD"},
        "credit_limit": {"amount": "0.00", "currency": "USD"},
        "available": {"amount": "70.00", "currency": "USD"},
        "livemode": True,
    }

    page = vendor_api.get("/api/v1/vendor/ledger", {"page_size": 2}).json()
    assert set(page) == {"next", "previous", "results"}
    first, second = page["results"]
    assert first["type"] == "adjustment" and first["description"] == "fee"
    assert first["amount"] == {"amount": "-5.00", "currency": "USD"}
    assert first["balance_after"] == {"amount": "70.00", "currency": "USD"}
    assert second["amount"] == {"amount": "25.00", "currency": "USD"}
    assert second["balance_after"] == {"amount": "75.00", "currency": "USD"}
    assert first["order_id"] is None and first["created_at"]
    rest = vendor_api.get(page["next"]).json()
    assert [r["balance_after"]["amount"] for r in rest["results"]] == ["50.00"]
    assert rest["next"] is None


def test_postpaid_balance_shows_the_credit_line(db):
    from tests.vendors.factories import vendor_client

    client = vendor_client(billing_mode="postpaid")
    vendor_credit_limit_change(
        vendor=client.vendor, limit=Money(100_000, "USD"), actor=None, reason="x"
    )
    body = client.get("/api/v1/vendor/balance").json()
    assert body["billing_mode"] == "postpaid"
    assert body["credit_limit"] == {"amount": "1000.00", "currency": "USD"}
    assert body["available"] == {"amount": "1000.00", "currency": "USD"}


def test_invoices_list_with_lines_url_and_csv(db):
    from billing.accounts import vendor_ledger_account
    from billing.models import Invoice, InvoiceLine
    from ledger.models import Purpose
    from tests.vendors.factories import vendor_client

    client = vendor_client(billing_mode="postpaid")
    vendor = client.vendor
    account = vendor_ledger_account(vendor=vendor, purpose=Purpose.RECEIVABLE, currency="USD")
    today = timezone.now().date()
    invoice = Invoice.objects.create(
        vendor=vendor,
        account=account,
        period_start=today.replace(day=1),
        period_end=today,
        currency="USD",
        total=1350,
        opening_balance=0,
        closing_balance=1350,
        due_date=today,
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        day=today,
        kind="order_charge",
        bundle_code="esim_1GB_7D_GB_V2",
        quantity=3,
        amount=1350,
        description="3 x 1GB GB",
    )

    listed = client.get("/api/v1/vendor/invoices").json()
    assert listed["count"] == 1
    item = listed["results"][0]
    assert item["total"] == {"amount": "13.50", "currency": "USD"}
    assert item["status"] == "issued"
    assert item["period_start"] == str(today.replace(day=1))

    lines = client.get(item["lines_url"]).json()
    assert lines["total"] == {"amount": "13.50", "currency": "USD"}
    assert lines["lines"] == [
        {
            "day": str(today),
            "kind": "order_charge",
            "bundle_code": "esim_1GB_7D_GB_V2",
            "quantity": 3,
            "description": "3 x 1GB GB",
            "amount": {"amount": "13.50", "currency": "USD"},
        }
    ]

    response = client.get(item["lines_csv_url"], HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "invoice" and any("13.50" in row for row in rows[1:])
