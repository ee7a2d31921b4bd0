"""The portal's bulk order from a CSV file: upload, every bad row named (line, column,
why) with nothing placed, then one job with a progress bar (the page polls it) and the
results as CSV (row -> order -> ICCIDs -> install page URLs)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render

from portal.bulk import (
    COLUMNS,
    MAX_ROWS,
    RESULT_COLUMNS,
    bulk_order_check,
    bulk_order_results,
    bulk_order_start,
)
from portal.listing import csv_response
from portal.models import BulkOrder
from portal.views import _context, portal_page
from ttelgo.errors import DomainError
from vendors.members import member_may
from vendors.models import VendorUser


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"columns: {', '.join(COLUMNS)}; up to {MAX_ROWS:,} rows",
    )


def _page(
    request: HttpRequest, member: VendorUser, form: UploadForm, status: int = 200, **extra: object
) -> HttpResponse:
    jobs = BulkOrder.objects.filter(vendor=member.vendor)[:20]
    context = _context(
        member,
        form=form,
        jobs=jobs,
        columns=COLUMNS,
        may_orders=member_may(member, "orders.manage"),
        **extra,
    )
    return render(request, "portal/bulk_orders.html", context, status=status)


@portal_page
def bulk_orders(request: HttpRequest, member: VendorUser) -> HttpResponse:
    if request.method != "POST":
        return _page(request, member, UploadForm())
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, member, form, status=400)
    upload = form.cleaned_data["file"]
    try:
        checked = bulk_order_check(member=member, content=upload.read())
        if checked.errors:
            return _page(request, member, form, status=400, errors=checked.errors)
        job = bulk_order_start(member=member, checked=checked, filename=upload.name)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _page(request, member, form, status=400)
    messages.success(request, f"{job.total} rows are being placed ({checked.total}).")
    return redirect("portal:bulk-order", bulk_id=job.pk)


@portal_page
def bulk_order(request: HttpRequest, member: VendorUser, bulk_id: int) -> HttpResponse:
    """The job's progress (`?format=json` for the page's polling) and its results CSV."""
    job = BulkOrder.objects.filter(pk=bulk_id, vendor=member.vendor).first()
    if job is None:
        raise Http404("Bulk order not found.")
    fmt = request.GET.get("format")
    if fmt == "json":
        return JsonResponse(
            {"status": job.status, "done": job.done, "total": job.total, "percent": job.percent}
        )
    rows = bulk_order_results(job)
    if fmt == "csv":
        return csv_response(f"bulk-order-{job.pk}.csv", RESULT_COLUMNS, rows)
    results = [dict(zip(RESULT_COLUMNS, row, strict=True)) for row in rows]
    refused = sum(1 for r in results if r["error"])
    context = _context(member, job=job, results=results[:200], refused=refused)
    return render(request, "portal/bulk_order.html", context)
