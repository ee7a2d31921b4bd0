"""Invoice downloads: CSV and PDF (reportlab)."""

from __future__ import annotations

import csv
import io
from xml.sax.saxutils import escape

from django.conf import settings
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing.models import Invoice
from ttelgo.csv_safe import csv_text
from ttelgo.money import Money

CSV_HEADER = [
    "invoice",
    "day",
    "description",
    "bundle_code",
    "kind",
    "quantity",
    "amount",
    "currency",
]


def _fmt(amount: int, currency: str) -> str:
    return Money(amount, currency).to_api()["amount"]


def invoice_csv(*, invoice: Invoice) -> str:
    """One row per line, then a total row; amounts as decimal strings."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for line in invoice.lines.all():
        writer.writerow(
            [
                invoice.number,
                line.day.isoformat(),
                csv_text(line.description),
                csv_text(line.bundle_code),
                csv_text(line.kind),
                line.quantity,
                _fmt(line.amount, invoice.currency),
                invoice.currency,
            ]
        )
    writer.writerow(
        [
            invoice.number,
            "",
            "Total",
            "",
            "",
            "",
            _fmt(invoice.total, invoice.currency),
            invoice.currency,
        ]
    )
    if invoice.tax_amount:
        writer.writerow(
            [
                invoice.number,
                "",
                "of which VAT",
                "",
                "",
                "",
                _fmt(invoice.tax_amount, invoice.currency),
                invoice.currency,
            ]
        )
    return out.getvalue()


def invoice_pdf(*, invoice: Invoice) -> bytes:
    """The invoice as a PDF. Paragraph text is reportlab markup: every string that is not
    ours (the vendor's name) is escaped, so `A <B> Travel` prints as written."""
    buf = io.BytesIO()
    styles = getSampleStyleSheet()
    doc = SimpleDocTemplate(buf, pagesize=A4, title=f"Invoice {invoice.number}")
    cur = invoice.currency
    story = [
        Paragraph(f"TTelGo invoice {invoice.number}", styles["Title"]),
        Paragraph(
            f"Seller: {escape(settings.PLATFORM_LEGAL_NAME)}"
            + (
                f", VAT number {escape(invoice.seller_vat_number)}"
                if invoice.seller_vat_number
                else ""
            ),
            styles["Normal"],
        ),
        Paragraph(
            f"Vendor: {escape(invoice.vendor.name)}"
            + (
                f", VAT number {escape(invoice.buyer_vat_number)}"
                if invoice.buyer_vat_number
                else ""
            ),
            styles["Normal"],
        ),
        Paragraph(
            f"Period: {invoice.period_start.isoformat()} to {invoice.period_end.isoformat()}",
            styles["Normal"],
        ),
        Paragraph(
            f"Due: {invoice.due_date.isoformat()} &nbsp; Status: {invoice.status}", styles["Normal"]
        ),
        Spacer(1, 12),
    ]
    rows: list[list[str]] = [["Day", "Description", "Qty", f"Amount ({cur})"]]
    for line in invoice.lines.all():
        rows.append(
            [line.day.isoformat(), line.description, str(line.quantity), _fmt(line.amount, cur)]
        )
    total_row = len(rows)
    rows.append(["", "Total", "", _fmt(invoice.total, cur)])
    if invoice.tax_amount:
        rows.append(["", "of which VAT", "", _fmt(invoice.tax_amount, cur)])
    rows.append(["", "Paid", "", _fmt(invoice.paid_amount, cur)])
    table = Table(rows, colWidths=[70, 270, 40, 90], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("LINEABOVE", (0, total_row), (-1, total_row), 0.75, colors.black),
                ("FONTNAME", (0, total_row), (-1, -1), "Helvetica-Bold"),
            ]
        )
    )
    story.append(table)
    if invoice.tax_note:
        story += [Spacer(1, 12), Paragraph(escape(invoice.tax_note), styles["Normal"])]
    doc.build(story)
    return buf.getvalue()
