"""Postpaid invoices: a closed month ties exactly to the ledger."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.db.models import Sum
from django.test import override_settings

from billing import invoicing, services, tasks
from billing.invoice_render import invoice_csv, invoice_pdf
from billing.models import Invoice
from billing.selectors import vendor_balance, vendor_has_overdue_invoices
from ledger.models import Entry, Purpose
from ledger.selectors import account_balance
from tests.ledger.factories import platform, postpaid, receivable, usd
from ttelgo.errors import DomainError

pytestmark = pytest.mark.django_db


def at(y: int, m: int, d: int, h: int = 12) -> time_machine.travel:
    return time_machine.travel(datetime(y, m, d, h, tzinfo=UTC), tick=False)


def _order(vendor, order_id: int, cents: int, bundle: str) -> None:
    services.vendor_order_reserve(vendor=vendor, order_id=order_id, amount=usd(cents))
    services.vendor_order_capture(order_id=order_id, metadata={"bundle_code": bundle})


@pytest.fixture
def september(db):
    """A postpaid vendor with activity in August, September and October 2026."""
    with at(2026, 8, 1):
        vendor = postpaid(credit_limit=100_000)
    with at(2026, 8, 30):
        _order(vendor, 1, 1_000, "EU_1GB")
    with at(2026, 9, 1, 0):  # first instant of the month belongs to it
        _order(vendor, 2, 500, "EU_1GB")
    with at(2026, 9, 1, 18):
        _order(vendor, 3, 500, "EU_1GB")
        _order(vendor, 4, 2_000, "US_5GB")
    with at(2026, 9, 12):
        _order(vendor, 5, 750, "US_5GB")
        services.vendor_order_refund(order_id=4, amount=usd(2_000), reference="r4")
        services.vendor_adjustment(vendor=vendor, amount=usd(100), reason="credit", actor=None)
    with at(2026, 9, 15):
        # a voided reservation charges nothing; a payment in the month is not a charge
        services.vendor_order_reserve(vendor=vendor, order_id=6, amount=usd(1))
        services.vendor_order_void(order_id=6)
        aug = invoicing.invoice_close_month(vendor=vendor, year=2026, month=8)
        invoicing.invoice_settle(invoice=aug, amount=usd(1_000), reference="wire-aug")
    with at(2026, 9, 30, 23):
        _order(vendor, 7, 300, "EU_1GB")
    with at(2026, 10, 1, 0):
        _order(vendor, 8, 9_999, "US_5GB")
    return vendor


def test_an_invoice_for_a_month_ties_exactly_to_that_months_ledger_entries(september):
    vendor = september
    with at(2026, 10, 1, 1):
        inv = invoicing.invoice_close_month(vendor=vendor, year=2026, month=9)

    acc = receivable(vendor)
    month = Entry.objects.filter(
        account=acc,
        transaction__created_at__gte=datetime(2026, 9, 1, tzinfo=UTC),
        transaction__created_at__lt=datetime(2026, 10, 1, tzinfo=UTC),
    )
    charges = month.exclude(transaction__kind="invoice_settlement").aggregate(s=Sum("amount"))["s"]
    # 500 + 500 + 2000 + 750 - 2000 (refund) - 100 (adjustment) + 300
    assert inv.total == charges == 1_950
    assert sum(line.amount for line in inv.lines.all()) == inv.total
    assert (inv.period_start, inv.period_end) == (date(2026, 9, 1), date(2026, 9, 30))
    assert inv.opening_balance == 1_000  # August's order
    settled = month.filter(transaction__kind="invoice_settlement").aggregate(s=Sum("amount"))["s"]
    assert settled == -1_000
    assert inv.closing_balance == inv.opening_balance + inv.total + settled == 1_950
    aug = Invoice.objects.get(vendor=vendor, period_start=date(2026, 8, 1))
    assert (aug.total, aug.status) == (1_000, Invoice.Status.PAID)
    assert inv.status == Invoice.Status.ISSUED and inv.due_date == date(2026, 10, 15)

    lines = [(x.day.day, x.kind, x.bundle_code, x.quantity, x.amount) for x in inv.lines.all()]
    assert lines == [
        (1, "order_charge", "EU_1GB", 2, 1_000),
        (1, "order_charge", "US_5GB", 1, 2_000),
        (12, "adjustment", "", 1, -100),
        (12, "order_charge", "US_5GB", 1, 750),
        (12, "order_refund", "US_5GB", 1, -2_000),
        (30, "order_charge", "EU_1GB", 1, 300),
    ]


def test_closing_a_month_is_idempotent_and_refused_before_it_ends(september):
    vendor = september
    with at(2026, 9, 30, 23):
        with pytest.raises(DomainError) as exc:
            invoicing.invoice_close_month(vendor=vendor, year=2026, month=9)
        assert exc.value.code == "invalid_state"
    with at(2026, 10, 2):
        first = invoicing.invoice_close_month(vendor=vendor, year=2026, month=9)
        again = invoicing.invoice_close_month(vendor=vendor, year=2026, month=9)
    assert first.id == again.id
    assert Invoice.objects.filter(period_start=date(2026, 9, 1)).count() == 1
    assert first.lines.count() == 6


def test_beat_job_closes_last_month_for_every_postpaid_vendor(september):
    with at(2026, 9, 10):
        other = postpaid()
        services.vendor_order_reserve(vendor=other, order_id=100, amount=usd(50))
        services.vendor_order_capture(order_id=100)
        postpaid()  # no receivable yet: nothing to invoice
    with at(2026, 10, 1, 1):
        ids = tasks.invoices_close_due()
        assert tasks.invoices_close_due() == []
    invoices = Invoice.objects.filter(id__in=ids)
    assert {(i.vendor_id, i.total) for i in invoices} == {(september.id, 1_950), (other.id, 50)}


def test_settlement_posts_against_the_receivable_and_pays_the_invoice(september):
    with at(2026, 10, 2):
        inv = invoicing.invoice_close_month(vendor=september, year=2026, month=9)
    owed_before = account_balance(account=receivable(september)).amount
    with at(2026, 10, 5):
        invoicing.invoice_settle(invoice=inv, amount=usd(950), reference="wire-1")
        invoicing.invoice_settle(invoice=inv, amount=usd(950), reference="wire-1")  # replay
        inv.refresh_from_db()
        assert (inv.paid_amount, inv.status) == (950, Invoice.Status.ISSUED)
        with pytest.raises(DomainError):
            invoicing.invoice_settle(invoice=inv, amount=usd(1_001), reference="wire-x")
        invoicing.invoice_settle(invoice=inv, amount=usd(1_000), reference="wire-2")
    inv.refresh_from_db()
    assert (inv.paid_amount, inv.status, inv.outstanding) == (1_950, Invoice.Status.PAID, 0)
    assert account_balance(account=receivable(september)).amount == owed_before - 1_950
    assert account_balance(account=platform(Purpose.BANK)) == usd(1_000 + 1_950)  # + August
    assert vendor_balance(vendor=september).balance == usd(-(owed_before - 1_950))


def test_unpaid_invoices_become_overdue_and_can_stop_ordering(september):
    with at(2026, 10, 2):
        inv = invoicing.invoice_close_month(vendor=september, year=2026, month=9)
        assert not vendor_has_overdue_invoices(vendor=september)
    with at(2026, 10, 15):
        assert tasks.invoices_mark_overdue() == 0
        assert not vendor_has_overdue_invoices(vendor=september)
    with at(2026, 10, 16):
        assert vendor_has_overdue_invoices(vendor=september)  # even before the beat job runs
        assert tasks.invoices_mark_overdue() == 1
        inv.refresh_from_db()
        assert inv.status == Invoice.Status.OVERDUE
        invoicing.invoice_settle(invoice=inv, amount=usd(inv.total), reference="late")
        assert not vendor_has_overdue_invoices(vendor=september)


@override_settings(INVOICE_DUE_DAYS=30)
def test_due_date_follows_the_setting(september):
    with at(2026, 10, 2):
        inv = invoicing.invoice_close_month(vendor=september, year=2026, month=9)
    assert inv.due_date == date(2026, 10, 30)


def test_csv_and_pdf_downloads_carry_the_lines_and_total(september):
    with at(2026, 10, 2):
        inv = invoicing.invoice_close_month(vendor=september, year=2026, month=9)
    rows = list(csv.DictReader(io.StringIO(invoice_csv(invoice=inv))))
    assert len(rows) == 7
    assert rows[-1]["description"] == "Total" and rows[-1]["amount"] == "19.50"
    assert rows[0]["day"] == "2026-09-01" and rows[0]["amount"] == "10.00"
    pdf = invoice_pdf(invoice=inv)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1_000


def test_issuing_an_invoice_publishes_invoice_issued_to_the_vendor(september, monkeypatch) -> None:
    from ttelgo.models import OutboxMessage
    from ttelgo.outbox import EVENT_PUBLISH_TASK

    with at(2026, 10, 2):
        inv = invoicing.invoice_close_month(vendor=september, year=2026, month=9)
        invoicing.invoice_close_month(vendor=september, year=2026, month=9)
    # Recorded in the invoice's transaction: one outbox message for the webhooks app.
    rows = OutboxMessage.objects.filter(task=EVENT_PUBLISH_TASK)
    issued = [r.args for r in rows if r.args[1] == "invoice.issued" and r.args[2]["id"] == inv.id]
    assert len(issued) == 1  # the second close issued nothing
    vendor_id, _, data = issued[0][:3]
    assert vendor_id == september.pk
    assert data["total"] == {"amount": "19.50", "currency": "USD"}


@pytest.mark.parametrize("name", ["A <B> Travel", "Bold <b>Co", "Tours & <font color=red>Go"])
def test_the_pdf_prints_any_vendor_name_as_written(september, name, monkeypatch):
    import reportlab.rl_config

    from vendors.models import Vendor

    monkeypatch.setattr(reportlab.rl_config, "pageCompression", 0)  # readable page text
    Vendor.objects.filter(pk=september.pk).update(name=name)
    with at(2026, 10, 2):
        inv = invoicing.invoice_close_month(vendor=september, year=2026, month=9)
    inv.refresh_from_db()
    pdf = invoice_pdf(invoice=inv)  # raised on markup-looking names before
    # Each text line is a run of `(...) Tj` pieces between BT and ET.
    lines = [
        b"".join(re.findall(rb"\(((?:[^()\\]|\\.)*)\) Tj", block))
        for block in re.findall(rb"BT(.*?)ET", pdf, re.S)
    ]
    text = [line.replace(b"\\(", b"(").replace(b"\\)", b")") for line in lines]
    assert f"Vendor: {name}".encode() in text


def test_csv_text_cells_cannot_run_as_formulas(september):
    from billing.models import InvoiceLine

    with at(2026, 10, 2):
        inv = invoicing.invoice_close_month(vendor=september, year=2026, month=9)
    InvoiceLine.objects.filter(invoice=inv).update(bundle_code='=HYPERLINK("http://x")')
    rows = list(csv.DictReader(io.StringIO(invoice_csv(invoice=inv))))
    assert rows[0]["bundle_code"] == '\'=HYPERLINK("http://x")'
    assert any(r["amount"].startswith("-") for r in rows)  # numbers stay numbers
