"""The vendor's IoT SIM fleet in the portal: the API's filters, a page of SIMs, and
enable/disable of the ticked SIMs as one background job (the API's bulk job); a SIM's
page (quotas, events, SMS, top-ups; refresh, auto top-up, SMS), a top-up with its price
and a confirm step, the fleet's SMS (send to many, read replies) and its auto top-up.
Every change goes through `portal.iot_actions` (the API's services, once per the form's
key); test mode acts on the test environment's simulated fleet with play money."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from billing.selectors import vendor_balance
from iot.models import IotBulkJob, IotFleetSettings, IotSim, IotSms, IotTopup, QuotaLevel
from iot.selectors import (
    event_list_for_vendor,
    sim_list_for_vendor,
    sims_get_for_vendor,
    sms_list_for_vendor,
)
from iot.services import bulk_job_create, month_start, topup_price
from portal.iot_actions import (
    member_iot_fleet_auto_topup,
    member_iot_sim_auto_topup,
    member_iot_sim_get,
    member_iot_sim_refresh,
    member_iot_sms_send,
    member_iot_topup,
)
from portal.listing import paginate
from portal.views import _context, portal_page
from providers import ProviderError
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.validators import SingleLineFormField
from vendors.members import member_may
from vendors.models import VendorUser

MAX_SELECTED = 500  # one page's worth of ticks at most
MAX_SMS_SIMS = 1000  # as the API


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


# --- one SIM: events, SMS, top-up, auto top-up ------------------------------------------
EVENTS_SHOWN = 50
SMS_SHOWN = 50


class SimAutoTopupForm(forms.Form):
    enabled = forms.ChoiceField(
        choices=[("", "follow the fleet"), ("on", "on"), ("off", "off")],
        required=False,
        label="Auto top-up",
    )
    monthly_cap = forms.IntegerField(
        min_value=0, max_value=100, required=False, label="Its monthly cap (blank: the fleet's)"
    )
    idempotency_key = forms.CharField(max_length=255, widget=forms.HiddenInput)


class SmsForm(forms.Form):
    iccids = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        label="SIMs (ICCIDs, one a line or comma-separated)",
        max_length=MAX_SMS_SIMS * 23,
    )
    text = SingleLineFormField(max_length=160, label="Text (160 characters)")
    idempotency_key = forms.CharField(max_length=255, widget=forms.HiddenInput)

    def clean_iccids(self) -> list[str]:
        raw = self.cleaned_data["iccids"].replace(",", "\n").split()
        iccids = list(dict.fromkeys(i.strip() for i in raw if i.strip()))
        if not iccids:
            raise forms.ValidationError("Name at least one SIM.")
        if len(iccids) > MAX_SMS_SIMS:
            raise forms.ValidationError(f"At most {MAX_SMS_SIMS} SIMs at once.")
        return iccids


class FleetAutoTopupForm(forms.Form):
    auto_topup = forms.BooleanField(required=False, label="Auto top-up for every SIM")
    monthly_cap = forms.IntegerField(
        min_value=0, max_value=1_000_000, label="Fleet cap a month (0: none)"
    )
    sim_monthly_cap = forms.IntegerField(min_value=0, max_value=100, label="Per SIM a month")
    idempotency_key = forms.CharField(max_length=255, widget=forms.HiddenInput)


class TopupConfirmForm(forms.Form):
    idempotency_key = forms.CharField(max_length=255, widget=forms.HiddenInput)


def _key() -> str:
    return uuid.uuid4().hex


def _sim_page(
    request: HttpRequest, member: VendorUser, sim: IotSim, *, status: int = 200, **forms_: Any
) -> HttpResponse:
    auto = forms_.get("auto") or SimAutoTopupForm(
        initial={
            "enabled": "" if sim.auto_topup is None else ("on" if sim.auto_topup else "off"),
            "monthly_cap": sim.auto_topup_monthly_cap,
            "idempotency_key": _key(),
        }
    )
    sms = forms_.get("sms") or SmsForm(initial={"iccids": sim.iccid, "idempotency_key": _key()})
    context = _context(
        member,
        sim=sim,
        events=event_list_for_vendor(vendor=member.vendor, sim=sim)[:EVENTS_SHOWN],
        messages_=sms_list_for_vendor(vendor=member.vendor, iccid=sim.iccid)[:SMS_SHOWN],
        topups=IotTopup.objects.filter(sim=sim, vendor=member.vendor).order_by("-id")[:10],
        auto=auto,
        sms=sms,
        may_change=member_may(member, "orders.manage"),
    )
    return render(request, "portal/iot_sim.html", context, status=status)


def _sim_or_404(member: VendorUser, iccid: str) -> IotSim:
    try:
        return member_iot_sim_get(member=member, iccid=iccid)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def _refused(request: HttpRequest, exc: DomainError) -> None:
    if exc.code == "idempotency_key_in_use":
        messages.info(request, "This is being done already; it shows here in a moment.")
    elif exc.code == "idempotency_key_reused":
        messages.error(request, "This form was sent for something else; fill it in again.")
    else:
        messages.error(request, exc.message)


@portal_page
def iot_sim(request: HttpRequest, member: VendorUser, iccid: str) -> HttpResponse:
    """GET: the SIM, its quotas, events, SMS and top-ups. POST `action`: `refresh` (read
    it, its events and replies from the provider now), `auto_topup` (its own setting),
    `sms` (send it a message) — each form once per its key."""
    sim = _sim_or_404(member, iccid)
    if request.method != "POST":
        return _sim_page(request, member, sim)
    action = request.POST.get("action", "")
    try:
        if action == "refresh":
            member_iot_sim_refresh(member=member, iccid=sim.iccid)
            messages.success(request, "Read from the network just now.")
        elif action == "auto_topup":
            auto = SimAutoTopupForm(request.POST)
            if not auto.is_valid():
                return _sim_page(request, member, sim, status=400, auto=auto)
            choice = auto.cleaned_data["enabled"]
            member_iot_sim_auto_topup(
                member=member,
                idempotency_key=auto.cleaned_data["idempotency_key"],
                iccid=sim.iccid,
                enabled=None if choice == "" else choice == "on",
                cap=auto.cleaned_data["monthly_cap"],
            )
            messages.success(request, "Auto top-up saved.")
        elif action == "sms":
            return _sms_post(request, member, back=("portal:iot-sim", sim.iccid))
        else:
            messages.error(request, "Unknown action.")
            return _sim_page(request, member, sim, status=400)
    except DomainError as exc:
        _refused(request, exc)
        return _sim_page(request, member, sim, status=403 if exc.status == 403 else 400)
    except ProviderError as exc:
        messages.error(request, f"The network did not answer; try again shortly ({exc}).")
        return _sim_page(request, member, sim, status=502)
    return redirect("portal:iot-sim", iccid=sim.iccid)


@portal_page
def iot_sim_topup(request: HttpRequest, member: VendorUser, iccid: str) -> HttpResponse:
    """GET: one top-up's price, what it adds, and what the wallet or credit line has left
    after it; POST (`confirm`): bought once per the form's key, paid like the API's."""
    sim = _sim_or_404(member, iccid)
    vendor = member.vendor
    try:
        price, _ = topup_price(vendor=vendor)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("portal:iot-sim", iccid=sim.iccid)
    balance = vendor_balance(vendor=vendor)
    left = Money(balance.available.amount - price.amount, balance.currency)
    context = _context(
        member,
        sim=sim,
        price=price,
        balance=balance,
        left=left,
        enough=left.amount >= 0,
        data_mb=settings.IOT_TOPUP_DATA_MB,
        sms=settings.IOT_TOPUP_SMS,
        confirm=TopupConfirmForm(initial={"idempotency_key": _key()}),
    )
    if request.method != "POST":
        return render(request, "portal/iot_topup.html", context)
    form = TopupConfirmForm(request.POST)
    if not form.is_valid():
        return render(request, "portal/iot_topup.html", context, status=400)
    try:
        topup, replayed = member_iot_topup(
            member=member, idempotency_key=form.cleaned_data["idempotency_key"], iccid=sim.iccid
        )
    except DomainError as exc:
        _refused(request, exc)
        status = 402 if exc.code in ("insufficient_funds", "credit_limit_exceeded") else 400
        return render(request, "portal/iot_topup.html", context, status=status)
    except ProviderError as exc:
        messages.error(request, f"The network refused the top-up; nothing was charged ({exc}).")
        return redirect("portal:iot-sim", iccid=sim.iccid)
    if replayed:
        messages.info(request, f"Top-up {topup.pk} was made already: {topup.get_status_display()}.")
    elif topup.status == IotTopup.Status.RESERVED:
        messages.info(
            request,
            f"Top-up {topup.pk}: the network's answer is late; it is settled within minutes.",
        )
    else:
        messages.success(request, f"Top-up {topup.pk}: {topup.get_status_display()}.")
    return redirect("portal:iot-sim", iccid=sim.iccid)


def _sms_post(request: HttpRequest, member: VendorUser, *, back: tuple[str, ...]) -> HttpResponse:
    form = SmsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(str(e) for errs in form.errors.values() for e in errs))
        return redirect(*back)
    try:
        sent, replayed = member_iot_sms_send(
            member=member,
            idempotency_key=form.cleaned_data["idempotency_key"],
            iccids=form.cleaned_data["iccids"],
            text=form.cleaned_data["text"],
        )
    except DomainError as exc:
        _refused(request, exc)
        details = exc.details.get("iccids") if isinstance(exc.details, dict) else None
        if details:
            messages.error(request, "SIMs: " + ", ".join(details))
        return redirect(*back)
    if replayed:
        messages.info(request, f"These {sent} SMS were sent already.")
    else:
        messages.success(request, f"{sent} SMS queued; replies show here as they arrive.")
    return redirect(*back)


class SmsFilterForm(forms.Form):
    direction = forms.ChoiceField(
        choices=[("", "both"), *IotSms.Direction.choices], required=False, label="Direction"
    )
    iccid = forms.CharField(max_length=22, required=False, label="ICCID")


@portal_page
def iot_sms(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """GET: the fleet's SMS, sent and replies (filter by direction, SIM). POST: one SMS
    to each SIM named, once per the form's key."""
    if request.method == "POST":
        return _sms_post(request, member, back=("portal:iot-sms",))
    filters = SmsFilterForm(request.GET or None)
    search = (
        {k: v for k, v in filters.cleaned_data.items() if v}
        if filters.is_bound and filters.is_valid()
        else {}
    )
    page, query = paginate(request, sms_list_for_vendor(vendor=member.vendor, **search))
    context = _context(
        member,
        filters=filters,
        page=page,
        query=query,
        form=SmsForm(initial={"idempotency_key": _key()}),
        may_change=member_may(member, "orders.manage"),
    )
    return render(request, "portal/iot_sms.html", context)


@portal_page
def iot_auto_topup(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """The fleet-wide auto top-up: on for SIMs that do not say otherwise, with a monthly
    cap across the fleet and one per SIM (as the API's `auto-topup`)."""
    fleet = IotFleetSettings.objects.filter(vendor=member.vendor).first() or IotFleetSettings()
    initial = {
        "auto_topup": fleet.auto_topup,
        "monthly_cap": fleet.monthly_cap,
        "sim_monthly_cap": fleet.sim_monthly_cap,
        "idempotency_key": _key(),
    }
    form = FleetAutoTopupForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            values = {k: v for k, v in form.cleaned_data.items() if k != "idempotency_key"}
            try:
                member_iot_fleet_auto_topup(
                    member=member,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    values=values,
                )
            except DomainError as exc:
                _refused(request, exc)
                status = 403 if exc.status == 403 else 400
            else:
                messages.success(request, "Fleet auto top-up saved.")
                return redirect("portal:iot-auto-topup")
        else:
            status = 400
    month = IotTopup.objects.filter(
        vendor=member.vendor, source=IotTopup.Source.AUTO, created_at__gte=month_start()
    ).exclude(status=IotTopup.Status.FAILED)
    context = _context(
        member,
        form=form,
        used=month.count(),
        may_change=member_may(member, "orders.manage"),
    )
    return render(request, "portal/iot_auto_topup.html", context, status=status)
