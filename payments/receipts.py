"""Receipts for wallet top-ups: every card top-up that succeeds gets one, as a PDF
(reportlab, like invoices) downloadable from the portal and emailed to the vendor's
billing address with the PDF attached. A top-up is a prepayment of the wallet, not a sale:
the receipt states what was paid and credited; the VAT is on the invoices of what the
wallet then buys."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.conf import settings
from django.core.mail import EmailMessage
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from payments.models import Payment
from ttelgo.money import Money
from ttelgo.outbox import task_enqueue


def receipt_number(payment: Payment) -> str:
    """ "R-" and the payment's reference (a UUID: no counter shows)."""
    return f"R-{str(payment.reference).upper()[:13]}"


def topup_receipt_filename(payment: Payment) -> str:
    return f"receipt-{receipt_number(payment)}{'' if payment.livemode else '-test'}.pdf"


def topup_receipt_available(payment: Payment) -> bool:
    return payment.kind == Payment.Kind.WALLET_TOPUP and payment.status == Payment.Status.SUCCEEDED


def topup_receipt_pdf(*, payment: Payment) -> bytes:
    """The receipt of a succeeded wallet top-up. Strings that are not ours (the vendor's
    name) are escaped for reportlab's markup."""
    if not topup_receipt_available(payment):
        raise ValueError("only a succeeded wallet top-up has a receipt")
    assert payment.vendor is not None
    vendor = payment.vendor.live_vendor or payment.vendor
    amount = Money(payment.amount, payment.currency)
    paid = payment.succeeded_at or payment.updated_at
    buf = io.BytesIO()
    styles = getSampleStyleSheet()
    number = receipt_number(payment)
    doc = SimpleDocTemplate(buf, pagesize=A4, title=f"Receipt {number}")
    story = [
        Paragraph(f"TTelGo receipt {number}", styles["Title"]),
    ]
    if not payment.livemode:
        story.append(Paragraph("TEST MODE: play money, nothing was charged.", styles["Heading2"]))
    story += [
        Paragraph(
            f"Received by: {escape(settings.PLATFORM_LEGAL_NAME)}"
            + (
                f", VAT number {escape(settings.PLATFORM_VAT_NUMBER)}"
                if settings.PLATFORM_VAT_NUMBER
                else ""
            ),
            styles["Normal"],
        ),
        Paragraph(
            f"From: {escape(vendor.name)}"
            + (f", VAT number {escape(vendor.vat_number)}" if vendor.vat_number else ""),
            styles["Normal"],
        ),
        Paragraph(f"Paid: {paid:%Y-%m-%d %H:%M} UTC by card", styles["Normal"]),
        Paragraph(f"Payment reference: {payment.reference}", styles["Normal"]),
        Spacer(1, 12),
    ]
    rows = [
        ["Description", f"Amount ({payment.currency})"],
        ["Wallet top-up (prepayment, credited to your TTelGo balance)", str(amount.to_decimal())],
        ["Total paid", str(amount.to_decimal())],
    ]
    table = Table(rows, colWidths=[340, 120])
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEABOVE", (0, 2), (-1, 2), 0.75, colors.black),
                ("FONTNAME", (0, 2), (-1, 2), "Helvetica-Bold"),
            ]
        )
    )
    story += [
        table,
        Spacer(1, 12),
        Paragraph(
            "A prepayment: VAT, where due, is on the invoices of what the balance buys.",
            styles["Normal"],
        ),
    ]
    doc.build(story)
    return buf.getvalue()


def topup_receipt_enqueue(*, payment: Payment) -> None:
    """Queue the receipt email (inside the caller's transaction: it leaves once the
    top-up commits)."""
    if topup_receipt_available(payment):
        task_enqueue("payments.tasks.topup_receipt_email", payment.pk)


def topup_receipt_email_send(*, payment_id: int) -> bool:
    """Email the receipt, PDF attached, to the vendor's billing address (else its contact
    address). False when there is no succeeded top-up or nobody to email."""
    payment = Payment.objects.select_related("vendor__live_vendor").filter(pk=payment_id).first()
    if payment is None or payment.vendor is None or not topup_receipt_available(payment):
        return False
    vendor = payment.vendor.live_vendor or payment.vendor
    to = vendor.billing_email or vendor.notify_email
    if not to:
        return False
    amount = Money(payment.amount, payment.currency)
    test = "" if payment.livemode else " (test mode)"
    body = (
        f"Hello {vendor.name},\n\n"
        f"we received your wallet top-up of {amount}{test}; it is in your balance.\n"
        f"Receipt {receipt_number(payment)}, payment reference {payment.reference}.\n"
        "The receipt is attached as a PDF and can be downloaded from Billing in the portal.\n\n"
        f"{settings.PLATFORM_LEGAL_NAME}\n"
    )
    message = EmailMessage(
        subject=f"Receipt for your wallet top-up of {amount}{test}", body=body, to=[to]
    )
    message.attach(
        topup_receipt_filename(payment), topup_receipt_pdf(payment=payment), "application/pdf"
    )
    message.send()
    return True
