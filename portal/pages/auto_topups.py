"""The portal's auto top-up rules: listed with what each did, created (for one eSIM or as
the default for all the vendor's eSIMs), edited, paused and resumed, through the same
services as the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from fulfilment.auto_topups.models import AutoTopupRule
from portal.auto_topup_actions import (
    member_rule_create,
    member_rule_get,
    member_rule_update,
    member_rules,
)
from portal.views import _context, _field_errors, portal_page
from ttelgo.errors import DomainError
from vendors.members import member_may
from vendors.models import VendorUser


class RuleForm(forms.Form):
    bundle_code = forms.CharField(max_length=100, label="Top up with bundle (code)")
    below_percent = forms.IntegerField(
        min_value=1,
        max_value=99,
        required=False,
        label="When data left falls to (%)",
        help_text="e.g. 20; empty: not on data",
    )
    expiry_days = forms.IntegerField(
        min_value=1,
        max_value=30,
        required=False,
        label="When expiry is this many days away",
        help_text="e.g. 2; empty: not on expiry",
    )
    monthly_limit = forms.IntegerField(
        min_value=1, max_value=31, initial=3, label="At most this many a month"
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("below_percent") is None and data.get("expiry_days") is None:
            self.add_error("below_percent", "Set a data level, an expiry, or both.")
        return data


class NewRuleForm(RuleForm):
    iccid = forms.RegexField(
        regex=r"^\d{18,22}$",
        required=False,
        label="eSIM ICCID",
        help_text="empty: the default rule for every eSIM without its own",
        error_messages={"invalid": "18 to 22 digits."},
    )
    field_order = ["iccid", "bundle_code", "below_percent", "expiry_days", "monthly_limit"]


def _page(
    request: HttpRequest, member: VendorUser, form: NewRuleForm, status: int = 200
) -> HttpResponse:
    context = _context(
        member,
        rules=member_rules(member=member),
        form=form,
        may_orders=member_may(member, "orders.manage"),
    )
    return render(request, "portal/auto_topups.html", context, status=status)


@portal_page
def auto_topups(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """The vendor's rules (active first, then paused) and the form for a new one."""
    if request.method != "POST":
        return _page(request, member, NewRuleForm(initial={"iccid": request.GET.get("iccid", "")}))
    form = NewRuleForm(request.POST)
    if not form.is_valid():
        return _page(request, member, form, status=400)
    try:
        member_rule_create(member=member, **form.cleaned_data)
    except DomainError as exc:
        if exc.code == "not_found" and "eSIM" in exc.message:
            form.add_error("iccid", exc.message)
        elif exc.code in ("not_found", "bundle_unavailable", "bundle_incompatible"):
            form.add_error("bundle_code", exc.message)
        else:
            _field_errors(form, exc)
        return _page(request, member, form, status=400)
    messages.success(request, "The auto top-up rule is on.")
    return redirect("portal:auto-topups")


def _rule(member: VendorUser, rule_id: int) -> AutoTopupRule:
    try:
        return member_rule_get(member=member, rule_id=rule_id)
    except DomainError as exc:
        raise Http404(exc.message) from exc


@portal_page
def auto_topup_edit(request: HttpRequest, member: VendorUser, rule_id: int) -> HttpResponse:
    rule = _rule(member, rule_id)
    initial = {f: getattr(rule, f) for f in RuleForm.base_fields}
    form = RuleForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                member_rule_update(member=member, rule_id=rule.pk, **form.cleaned_data)
            except DomainError as exc:
                if exc.code in ("not_found", "bundle_unavailable", "bundle_incompatible"):
                    form.add_error("bundle_code", exc.message)
                else:
                    _field_errors(form, exc)
            else:
                messages.success(request, "The rule is changed.")
                return redirect("portal:auto-topups")
    context = _context(member, rule=rule, form=form, may_orders=member_may(member, "orders.manage"))
    return render(request, "portal/auto_topup_edit.html", context, status=status)


@require_POST
@portal_page
def auto_topup_action(
    request: HttpRequest, member: VendorUser, rule_id: int, action: str
) -> HttpResponse:
    """pause or resume a rule."""
    rule = _rule(member, rule_id)
    if action not in ("pause", "resume"):
        raise Http404("Unknown action.")
    try:
        member_rule_update(member=member, rule_id=rule.pk, active=action == "resume")
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Resumed." if action == "resume" else "Paused: it fires nothing.")
    return redirect("portal:auto-topups")
