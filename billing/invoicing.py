"""Postpaid invoicing: close a vendor's month into an invoice, settle it, mark overdue.

An invoice is built only from the vendor's receivable entries of the month (UTC), so it
ties to the ledger by construction: `total` is the sum of its lines, which is the sum of
the month's non-settlement receivable entries, and `closing_balance - opening_balance`
equals `total` plus the month's settlements (negative).
"""

from __future__ import annotations

import calendar
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.accounts import vendor_ledger_account
from billing.lock_objects import invoice_qs_select_for_update
from billing.models import Invoice, InvoiceLine
from billing.state import invoice_move
from ledger.models import Account, Entry, Purpose, Transaction
from ledger.posting import accounts_lock, positive, post
from ledger.services import platform_account
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.outbox import event_record
from ttelgo.tax import Buyer, tax_for_sale
from vendors.models import Vendor

logger = logging.getLogger(__name__)

_LINE_LABEL = {
    Transaction.Kind.ORDER_CHARGE: "eSIM orders",
    Transaction.Kind.ORDER_REFUND: "Refunds",
    Transaction.Kind.ADJUSTMENT: "Adjustments",
}


def month_bounds(year: int, month: int) -> tuple[date, date, datetime, datetime]:
    """(first day, last day, start instant, end instant exclusive) of a UTC month."""
    if not 1 <= month <= 12:
        raise DomainError("validation_error", "month must be 1-12")
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return first, last, start, end


def _balance_before(account: Account, instant: datetime) -> int:
    last = (
        Entry.objects.filter(account=account, transaction__created_at__lt=instant)
        .order_by("-id")
        .values_list("balance_after", flat=True)
        .first()
    )
    return last or 0


def _lines(account: Account, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = (
        Entry.objects.filter(
            account=account,
            transaction__created_at__gte=start,
            transaction__created_at__lt=end,
        )
        .exclude(transaction__kind=Transaction.Kind.INVOICE_SETTLEMENT)
        .annotate(
            day=TruncDate("transaction__created_at", tzinfo=UTC),
            kind=F("transaction__kind"),
            bundle_code=KeyTextTransform("bundle_code", "transaction__metadata"),
        )
        .values("day", "kind", "bundle_code")
        .annotate(quantity=Count("id"), total=Sum("amount"))
        .order_by("day", "kind", "bundle_code")
    )
    return list(rows)


def _tax_of(account: Account, start: datetime, end: datetime) -> int:
    """The VAT booked (ledger `sale_tax`) in the period on orders charged to this
    receivable, less the VAT its refunds in the period gave back: the part of the
    invoice's total that is tax. A refund of an order invoiced in an earlier month is a
    credit on the month it is given in (its negative line and its negative VAT), never a
    change to the closed invoice."""
    order_ids = (
        Entry.objects.filter(account=account, transaction__order_id__isnull=False)
        .order_by()
        .values("transaction__order_id")
    )
    total = Entry.objects.filter(
        transaction__kind=Transaction.Kind.SALE_TAX,
        transaction__order_id__in=order_ids,
        transaction__created_at__gte=start,
        transaction__created_at__lt=end,
        account__purpose=Purpose.TAX_PAYABLE,
        account__currency=account.currency,
    ).aggregate(s=Sum("amount"))["s"]
    return -int(total or 0)  # credits of a liability


def invoice_close_month(*, vendor: Vendor, year: int, month: int) -> Invoice:
    """Close a finished month of a vendor's receivable into an invoice. Idempotent: the
    (vendor, period) unique constraint means a month is invoiced once."""
    first, last, start, end = month_bounds(year, month)
    existing = Invoice.objects.filter(vendor=vendor, period_start=first).first()
    if existing is not None:
        return existing
    if timezone.now() < end:
        raise DomainError("invalid_state", "the month is not over yet")
    account = vendor_ledger_account(vendor=vendor, purpose=Purpose.RECEIVABLE)
    with transaction.atomic():
        # Holding the account lock waits out postings still in flight from the month.
        accounts_lock([account.id])
        lines = _lines(account, start, end)
        total = sum(int(r["total"]) for r in lines)
        tax = _tax_of(account, start, end)
        terms = tax_for_sale(
            total=Money(max(total, 0), account.currency),
            buyer=Buyer(
                country=vendor.country,
                vat_number=vendor.vat_number,
                vat_number_valid=vendor.vat_number_valid,
            ),
        )
        try:
            with transaction.atomic():
                invoice = Invoice.objects.create(
                    vendor=vendor,
                    account=account,
                    period_start=first,
                    period_end=last,
                    currency=account.currency,
                    total=total,
                    opening_balance=_balance_before(account, start),
                    closing_balance=_balance_before(account, end),
                    due_date=last + timedelta(days=settings.INVOICE_DUE_DAYS),
                    status=Invoice.Status.ISSUED if total > 0 else Invoice.Status.PAID,
                    paid_at=None if total > 0 else timezone.now(),
                    tax_amount=tax,
                    seller_vat_number=terms.seller_vat_number,
                    buyer_vat_number=terms.buyer_vat_number,
                    tax_note=terms.note,
                )
        except IntegrityError:
            return Invoice.objects.get(vendor=vendor, period_start=first)
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=invoice,
                day=r["day"],
                kind=r["kind"],
                bundle_code=r["bundle_code"] or "",
                quantity=r["quantity"],
                amount=int(r["total"]),
                description=" ".join(
                    p for p in (_LINE_LABEL.get(r["kind"], r["kind"]), r["bundle_code"]) if p
                ),
            )
            for r in lines
        )
        if invoice.status == Invoice.Status.ISSUED:
            _invoice_issued_publish(invoice)
    return invoice


def _invoice_issued_publish(invoice: Invoice) -> None:
    """Tell the vendor (outbound webhook `invoice.issued`); delivered only if we commit."""
    event_record(
        vendor_id=invoice.vendor_id,
        livemode=invoice.vendor.livemode,
        type="invoice.issued",
        data={
            "id": invoice.id,
            "number": invoice.number,
            "period_start": invoice.period_start.isoformat(),
            "period_end": invoice.period_end.isoformat(),
            "total": Money(invoice.total, invoice.currency).to_api(),
            "due_date": invoice.due_date.isoformat(),
        },
    )


def _previous_month(today: date) -> tuple[int, int]:
    first = today.replace(day=1) - timedelta(days=1)
    return first.year, first.month


def invoices_close_due(*, today: date | None = None) -> list[Invoice]:
    """Beat job: close last month for every postpaid vendor with a receivable. One vendor
    failing is logged and does not stop the others."""
    year, month = _previous_month(today or timezone.now().date())
    first, _, _, end = month_bounds(year, month)
    vendors = Vendor.objects.filter(
        billing_mode=Vendor.BillingMode.POSTPAID,
        ledger_accounts__account__purpose=Purpose.RECEIVABLE,
        created_at__lt=end,
    ).distinct()
    closed = []
    for vendor in vendors.exclude(invoices__period_start=first):
        try:
            closed.append(invoice_close_month(vendor=vendor, year=year, month=month))
        except Exception:
            logger.exception("invoice close failed", extra={"vendor_id": vendor.id})
    return closed


def invoices_mark_overdue(*, today: date | None = None) -> int:
    """Beat job: issued invoices past their due date become overdue."""
    return invoice_move(
        Invoice.objects.filter(due_date__lt=today or timezone.now().date()),
        to=Invoice.Status.OVERDUE,
        expected=Invoice.Status.ISSUED,
    )


def invoice_settle(
    *, invoice: Invoice, amount: Money, reference: str, actor: Any = None
) -> Invoice:
    """Record a payment of an invoice: debit bank, credit the vendor's receivable; the
    invoice is paid once the total is covered. Idempotent on reference."""
    value = positive(amount, invoice.currency)
    bank = platform_account(Purpose.BANK, invoice.currency)
    with transaction.atomic():
        locked = invoice_qs_select_for_update().select_related("account").get(id=invoice.id)
        if Transaction.objects.filter(reference=reference).exists():
            return locked
        if value > locked.outstanding:
            raise DomainError(
                "validation_error",
                "The payment exceeds what is outstanding on the invoice.",
                details={"outstanding": Money(locked.outstanding, locked.currency).to_api()},
            )
        _, created = post(
            reference=reference,
            entries=[(bank, value), (locked.account, -value)],
            kind=Transaction.Kind.INVOICE_SETTLEMENT,
            description=f"Payment of {locked.number}",
            actor=actor,
            metadata={"invoice_id": locked.id, "vendor_id": locked.vendor_id},
        )
        if created:
            locked.paid_amount += value
            locked.save(update_fields=["paid_amount"])
            _paid_if_covered(locked)
    invoice.refresh_from_db()
    return locked


def invoices_open(*, vendor: Vendor) -> list[Invoice]:
    """The vendor's invoices with something still due, oldest first."""
    return list(
        Invoice.objects.filter(
            vendor=vendor, status__in=(Invoice.Status.ISSUED, Invoice.Status.OVERDUE)
        ).order_by("period_start", "id")
    )


def vendor_receivable_card_payment(
    *, vendor: Vendor, amount: Money, reference: str, invoice_id: int | None = None
) -> Transaction:
    """A postpaid vendor paid by card (Stripe confirmed it): debit Stripe clearing, credit
    the receivable, and settle its open invoices with it: the invoice it paid for first
    (`invoice_id`), then the oldest. What is left over stays on the receivable as credit
    for the vendor (what it owes next falls by it). Idempotent on reference.

    Lock order as in `invoice_settle`: the invoices, then (by posting) the account."""
    value = positive(amount, vendor.currency)
    receivable = vendor_ledger_account(vendor=vendor, purpose=Purpose.RECEIVABLE)
    clearing = platform_account(Purpose.STRIPE_CLEARING, receivable.currency, vendor.livemode)
    with transaction.atomic():
        invoices = list(
            invoice_qs_select_for_update()
            .filter(vendor=vendor, status__in=(Invoice.Status.ISSUED, Invoice.Status.OVERDUE))
            .order_by("period_start", "id")
        )
        invoices.sort(key=lambda inv: inv.id != invoice_id)  # the one paid for first
        txn, created = post(
            reference=reference,
            entries=[(clearing, value), (receivable, -value)],
            kind=Transaction.Kind.INVOICE_SETTLEMENT,
            description="Card payment",
            metadata={"vendor_id": vendor.pk, "invoice_id": invoice_id},
        )
        if not created:
            return txn
        left = value
        for invoice in invoices:
            if left <= 0:
                break
            take = min(left, invoice.outstanding)
            if take <= 0:
                continue
            invoice.paid_amount += take
            left -= take
            invoice.save(update_fields=["paid_amount"])
            _paid_if_covered(invoice)
    return txn


def _paid_if_covered(locked: Invoice) -> None:
    """A locked invoice whose payments now cover its total is paid (from the status read
    under its lock, so the move is this caller's)."""
    if locked.paid_amount >= locked.total:
        invoice_move(
            Invoice.objects.filter(pk=locked.pk),
            to=Invoice.Status.PAID,
            expected=locked.status,
            paid_at=timezone.now(),
        )
        locked.refresh_from_db(fields=["status", "paid_at"])
