"""The vendor's IoT SIM fleet in the portal: the API's filters, a page of SIMs, and
enable/disable of the ticked SIMs as one background job (the API's bulk job)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from iot.models import IotBulkJob, IotSim, QuotaLevel
from iot.selectors import sim_list_for_vendor, sims_get_for_vendor
from iot.services import bulk_job_create
from portal.listing import paginate
from portal.views import _context, portal_page
from ttelgo.errors import DomainError
from vendors.members import member_may
from vendors.models import VendorUser

MAX_SELECTED = 500  # one page's worth of ticks at most


class IotFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "any"), *IotSim.Status.choices], required=False, label="Status"
    )
    label_contains = forms.CharField(max_length=255, required=False, label="Label contains")
    quota_level = forms.ChoiceField(
        choices=[("", "any"), *QuotaLevel.choices], required=False, label="Quota"
    )
    usage_min_mb = forms.IntegerField(min_value=0, required=False, label="Used this month ≥ MB")
    data_left_max_mb = forms.IntegerField(min_value=0, required=False, label="Data left ≤ MB")


class IotBulkForm(forms.Form):
    action = forms.ChoiceField(choices=IotBulkJob.Action.choices)
    iccids = forms.MultipleChoiceField(choices=[], required=True)

    def __init__(self, *args: object, iccids: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["iccids"].choices = [(i, i) for i in iccids]  # type: ignore[attr-defined]


@portal_page
def iot_sims(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """GET: the fleet with filters. POST: enable or disable the ticked SIMs (a job)."""
    vendor = member.vendor
    if request.method == "POST":
        if not member_may(member, "orders.manage"):
            messages.error(request, "Your role may not change SIMs.")
            return redirect("portal:iot-sims")
        ticked = request.POST.getlist("iccids")[:MAX_SELECTED]
        bulk = IotBulkForm(request.POST, iccids=ticked)
        if not bulk.is_valid():
            messages.error(request, "Tick the SIMs and choose enable or disable.")
            return redirect("portal:iot-sims")
        try:
            sims = sims_get_for_vendor(vendor=vendor, iccids=bulk.cleaned_data["iccids"])
            job = bulk_job_create(vendor=vendor, sims=sims, action=bulk.cleaned_data["action"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"Job {job.pk}: {job.action} {job.total} SIM(s) in the background."
            )
        return redirect("portal:iot-sims")
    form = IotFilterForm(request.GET or None)
    valid = not form.is_bound or form.is_valid()
    search = (
        {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        if form.is_bound and valid
        else {}
    )
    page, query = paginate(request, sim_list_for_vendor(vendor=vendor, **search))
    jobs = IotBulkJob.objects.filter(vendor=vendor).order_by("-id")[:5]
    context = _context(
        member,
        form=form,
        page=page,
        query=query,
        jobs=jobs,
        may_change=member_may(member, "orders.manage"),
    )
    return render(request, "portal/iot_sims.html", context, status=200 if valid else 400)
