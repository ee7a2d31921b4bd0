"""The portal's API request log (in the current mode): every request made with the
vendor's keys over the last 30 days, searchable, with its redacted bodies."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from portal.listing import paginate
from portal.views import _context, portal_page
from vendors.models import ApiRequestLog, VendorUser
from vendors.request_log import request_log_list


class RequestLogForm(forms.Form):
    method = forms.ChoiceField(
        choices=[("", "any"), *((m, m) for m in ("GET", "POST", "PUT", "PATCH", "DELETE"))],
        required=False,
    )
    status = forms.IntegerField(required=False, min_value=100, max_value=599)
    path = forms.CharField(required=False, max_length=300, label="Path contains")
    request_id = forms.CharField(required=False, max_length=128, label="Request id")
    idempotency_key = forms.CharField(required=False, max_length=255, label="Idempotency key")


@portal_page
def request_log(request: HttpRequest, member: VendorUser) -> HttpResponse:
    form = RequestLogForm(request.GET or None)
    valid = not form.is_bound or form.is_valid()
    search: dict[str, Any] = (
        {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        if form.is_bound and valid
        else {}
    )
    page, query = paginate(request, request_log_list(vendor=member.vendor, **search))
    context = _context(member, form=form, page=page, query=query)
    return render(request, "portal/request_log.html", context, status=200 if valid else 400)


@portal_page
def request_log_detail(request: HttpRequest, member: VendorUser, log_id: int) -> HttpResponse:
    log = ApiRequestLog.objects.filter(pk=log_id, vendor=member.vendor).first()
    if log is None:
        raise Http404("Request log entry not found.")
    return render(request, "portal/request_log_detail.html", _context(member, log=log))
