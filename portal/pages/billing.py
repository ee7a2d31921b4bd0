"""The portal's billing pages (in the current mode): the statement over a date range
(and its CSV), invoices (PDF, CSV) and their payment, card top-ups of the wallet, and in
test mode the play-money refill."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from billing.invoice_render import invoice_csv, invoice_pdf
from billing.selectors import vendor_balance, vendor_invoices, vendor_statement
from payments.models import Payment
from payments.receipts import (
    topup_receipt_available,
    topup_receipt_filename,
    topup_receipt_pdf,
)
from portal.billing_actions import (
    member_invoice_get,
    member_invoice_pay,
    member_payment_get,
    member_test_payment_confirm,
    member_wallet_topup,
    payment_at_sandbox,
)
from portal.listing import DateRangeForm, csv_response, paginate
from portal.order_actions import member_play_money_refill
from portal.views import _context, _field_errors, portal_page
from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.members import member_may
from vendors.models import Vendor, VendorUser


class TopupForm(forms.Form):
    amount = forms.DecimalField(
        min_value=1, max_value=100_000, decimal_places=2, label="Amount", help_text="e.g. 250.00"
    )


def _statement(vendor: Vendor, form: DateRangeForm) -> Any:
    lines = vendor_statement(vendor=vendor)
    if not form.is_bound or not form.is_valid():
        return lines
    start, end = form.bounds()
    if start is not None:
        lines = lines.filter(transaction__created_at__gte=start)
    if end is not None:
        lines = lines.filter(transaction__created_at__lte=end)
    return lines


def _statement_csv(lines: Any, vendor: Vendor) -> HttpResponse:
    header = ["posted_at", "type", "description", "order_id", "amount", "balance_after"]
    header += ["currency"]
    rows = (
        [
            line.posted_at.isoformat(),
            line.type,
            line.description,
            line.order_id or "",
            f"{Money(line.statement_amount, line.currency).to_decimal()}",
            f"{Money(line.statement_balance_after or 0, line.currency).to_decimal()}",
            line.currency,
        ]
        for line in lines
    )
    return csv_response(f"statement{'' if vendor.livemode else '-test'}.csv", header, rows)


def _topups(vendor: Vendor) -> list[Payment]:
    """The latest succeeded card top-ups, each with its receipt."""
    topups = list(
        Payment.objects.filter(
            vendor=vendor, kind=Payment.Kind.WALLET_TOPUP, status=Payment.Status.SUCCEEDED
        ).order_by("-succeeded_at", "-id")[:24]
    )
    for topup in topups:
        topup.amount_display = str(Money(topup.amount, topup.currency))  # type: ignore[attr-defined]
    return topups


@portal_page
def billing(request: HttpRequest, member: VendorUser) -> HttpResponse:
    return _billing_page(request, member)


def _billing_page(
    request: HttpRequest, member: VendorUser, *, topup_form: TopupForm | None = None
) -> HttpResponse:
    vendor = member.vendor
    form = DateRangeForm(request.GET or None)
    status = 400 if form.is_bound and not form.is_valid() else 200
    lines = _statement(vendor, form)
    if request.GET.get("format") == "csv" and status == 200:
        return _statement_csv(lines[:50_000], vendor)
    page, query = paginate(request, lines)
    for line in page.object_list:
        line.statement_amount_display = str(Money(line.statement_amount, line.currency))
        line.statement_balance_display = str(
            Money(line.statement_balance_after or 0, line.currency)
        )
    context = _context(
        member,
        form=form,
        page=page,
        query=query,
        balance=vendor_balance(vendor=vendor),
        invoices=vendor_invoices(vendor=vendor)[:24],
        topups=_topups(vendor),
        topup_form=topup_form or TopupForm(),
        may_billing=member_may(member, "billing.manage"),
    )
    if topup_form is not None:
        status = 400  # the top-up form, shown again with its errors in place
    return render(request, "portal/billing.html", context, status=status)


@require_POST
@portal_page
def wallet_topup(request: HttpRequest, member: VendorUser) -> HttpResponse:
    form = TopupForm(request.POST)
    if form.is_valid():
        try:
            amount = Money.from_decimal(form.cleaned_data["amount"], member.vendor.currency)
            payment = member_wallet_topup(member=member, amount=amount)
        except DomainError as exc:
            _field_errors(form, exc)
        else:
            return redirect("portal:payment", payment_id=payment.pk)
    return _billing_page(request, member, topup_form=form)


@require_POST
@portal_page
def invoice_pay(request: HttpRequest, member: VendorUser, invoice_id: int) -> HttpResponse:
    try:
        payment = member_invoice_pay(member=member, invoice_id=invoice_id)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("portal:billing")
    return redirect("portal:payment", payment_id=payment.pk)


@portal_page
def invoice_download(
    request: HttpRequest, member: VendorUser, invoice_id: int, fmt: str
) -> HttpResponse:
    try:
        invoice = member_invoice_get(member=member, invoice_id=invoice_id)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    if fmt == "pdf":
        response = HttpResponse(invoice_pdf(invoice=invoice), content_type="application/pdf")
    elif fmt == "csv":
        response = HttpResponse(
            invoice_csv(invoice=invoice), content_type="text/csv; charset=utf-8"
        )
    else:
        raise Http404("Unknown format.")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.{fmt}"'
    return response


@portal_page
def payment(request: HttpRequest, member: VendorUser, payment_id: int) -> HttpResponse:
    """Pay a top-up or an invoice by card: Stripe's Payment Element, or, at the sandbox
    gateway (test mode, `make run`), a test card that pays or is declined."""
    try:
        found = member_payment_get(member=member, payment_id=payment_id)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    context = _context(
        member,
        payment=found,
        amount=Money(found.amount, found.currency),
        open=found.status in (Payment.Status.PENDING, Payment.Status.FAILED),
        receipt=topup_receipt_available(found),
        sandbox=payment_at_sandbox(found),
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
    )
    return render(request, "portal/payment.html", context)


@portal_page
def payment_receipt(request: HttpRequest, member: VendorUser, payment_id: int) -> HttpResponse:
    """A succeeded wallet top-up's receipt, as a PDF (the same one emailed)."""
    try:
        found = member_payment_get(member=member, payment_id=payment_id)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    if not topup_receipt_available(found):
        raise Http404("Only a paid top-up has a receipt.")
    response = HttpResponse(topup_receipt_pdf(payment=found), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{topup_receipt_filename(found)}"'
    return response


@require_POST
@portal_page
def payment_test_card(
    request: HttpRequest, member: VendorUser, payment_id: int, outcome: str
) -> HttpResponse:
    try:
        found = member_test_payment_confirm(
            member=member, payment_id=payment_id, succeed=outcome == "pay"
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if found.status == Payment.Status.SUCCEEDED:
            messages.success(request, f"Paid {Money(found.amount, found.currency)}.")
        else:
            messages.error(request, f"The card was declined: {found.failure_reason}")
    return redirect("portal:payment", payment_id=payment_id)


@require_POST
@portal_page
def play_money_refill(request: HttpRequest, member: VendorUser) -> HttpResponse:
    try:
        added = member_play_money_refill(member=member)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Added {added} of play money to the test wallet.")
    return redirect(
        "portal:test-tools" if request.POST.get("back") == "tools" else "portal:billing"
    )
