"""The vendor portal's pages. Every page looks up the logged-in person's membership on
each request (a removed member or a closed vendor loses access at once) and every action
goes through a service that checks the member's role (vendors/members.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.forms import (
    ApiKeyForm,
    BrandForm,
    EndpointForm,
    TaxDetailsForm,
    TicketForm,
    TimezoneForm,
)
from portal.modes import member_in_mode, test_mode_on, test_mode_set
from portal.overview import vendor_overview
from portal.webhook_actions import (
    member_deliveries_retry,
    member_delivery_get,
    member_delivery_retry,
    member_endpoint_create,
    member_endpoint_enabled_set,
    member_endpoint_get,
    member_endpoint_rotate,
    member_endpoint_test,
    member_endpoint_update,
)
from support.models import TicketMessage
from support.services import ticket_open, tickets_of_vendor
from ttelgo.crypto import decrypt, encrypt
from ttelgo.errors import DomainError
from vendors.members import (
    member_api_key_issue,
    member_api_key_revoke,
    member_brand_set,
    member_for,
    member_may,
    member_require,
    member_tax_details_set,
    member_timezone_set,
)
from vendors.models import Vendor, VendorAPIKey, VendorBrand, VendorUser
from webhooks import selectors as webhook_selectors
from webhooks.models import WebhookDelivery
from webhooks.services import ENDPOINT_BACKOFF_AFTER, event_body

View = Callable[..., HttpResponse]


def _page(view: Callable[..., HttpResponse], *, follows_mode: bool) -> View:
    @login_required(login_url="account_login")
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        member = member_for(request.user)
        try:
            member_require(member, "view")
        except DomainError as exc:
            return render(request, "portal/no_access.html", {"message": exc.message}, status=403)
        assert member is not None
        request.portal_member = member  # type: ignore[attr-defined]  # the live membership
        # The switch's position, for the page's header (a live-only page shows it too).
        request.portal_mode = "test" if test_mode_on(request) else "live"  # type: ignore[attr-defined]
        zone = vendor_zone(member.vendor)
        if follows_mode and test_mode_on(request):
            member = member_in_mode(member, livemode=False)
        # Every time on the page in the vendor's zone (its live vendor's, in test mode).
        with timezone.override(zone):
            return view(request, member, *args, **kwargs)

    return wrapper


def vendor_zone(vendor: Vendor) -> ZoneInfo:
    """The zone the vendor chose for the portal's times; UTC when none (or one no longer
    known) is set."""
    try:
        return ZoneInfo(vendor.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def portal_page(view: Callable[..., HttpResponse]) -> View:
    """Logged in, a member of an open vendor; the view gets the membership, acting on the
    test environment while the portal is in test mode."""
    return _page(view, follows_mode=True)


def portal_live_page(view: Callable[..., HttpResponse]) -> View:
    """As `portal_page`, always on the live vendor (brand, team, keys of both modes)."""
    return _page(view, follows_mode=False)


def _context(member: VendorUser, **extra: Any) -> dict[str, Any]:
    return {
        "member": member,
        "vendor": member.vendor,
        "livemode": member.vendor.livemode,
        "may_keys": member_may(member, "keys.manage"),
        "may_brand": member_may(member, "brand.manage"),
        **extra,
    }


@require_POST
@portal_live_page
def mode_switch(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """The live/test switch: the same page, in the other mode."""
    test_mode_set(request, request.POST.get("mode") == "test")
    return HttpResponseRedirect(_local_path(request, request.POST.get("next", "")))


def _local_path(request: HttpRequest, target: str) -> str:
    """`target` if it is a path on this site ("/portal/orders"), else the overview: a
    bare word, another host or scheme is never followed (nor taken for a URL name)."""
    if (
        target.startswith("/")
        and not target.startswith("//")
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return reverse("portal:overview")


@portal_page
def overview(request: HttpRequest, member: VendorUser) -> HttpResponse:
    context = _context(member, overview=vendor_overview(vendor=member.vendor))
    return render(request, "portal/overview.html", context)


@portal_live_page
def api_keys(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """Live and test keys together (a test key works from the first minute; live keys
    once the account is approved)."""
    mode = "test" if test_mode_on(request) else "live"
    form = ApiKeyForm(request.POST or None, initial={"mode": mode})
    created: str | None = None
    if request.method == "POST" and form.is_valid():
        try:
            acting = member_in_mode(member, livemode=form.cleaned_data["mode"] == "live")
            _key, created = member_api_key_issue(
                member=acting,
                name=form.cleaned_data["name"],
                expires_at=form.cleaned_data["expires_at"],
            )
        except DomainError as exc:
            _field_errors(form, exc)
        else:
            form = ApiKeyForm(initial={"mode": mode})
    keys = (
        VendorAPIKey.objects.filter(Q(vendor=member.vendor) | Q(vendor__live_vendor=member.vendor))
        .select_related("vendor")
        .order_by("-created")
    )
    status = 400 if request.method == "POST" and created is None else 200
    context = _context(member, form=form, keys=keys, created=created)
    return render(request, "portal/api_keys.html", context, status=status)


@require_POST
@portal_live_page
def api_key_revoke(request: HttpRequest, member: VendorUser, key_id: str) -> HttpResponse:
    try:
        api_key = member_api_key_revoke(member=member, key_id=key_id)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The key {api_key.display_prefix}… is revoked.")
    return redirect("portal:api-keys")


@portal_live_page
def brand(request: HttpRequest, member: VendorUser) -> HttpResponse:
    current = VendorBrand.objects.filter(vendor=member.vendor).first()
    initial = (
        {f: getattr(current, f) for f in BrandForm.base_fields}
        if current
        else {"display_name": member.vendor.name, "support_email": member.vendor.contact_email}
    )
    form = BrandForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                member_brand_set(member=member, **form.cleaned_data)
            except DomainError as exc:
                _field_errors(form, exc)
            else:
                messages.success(request, "Your brand is saved.")
                return redirect("portal:brand")
    zone_form = TimezoneForm(initial={"timezone": member.vendor.timezone})
    context = _context(member, form=form, zone_form=zone_form)
    return render(request, "portal/brand.html", context, status=status)


@require_POST
@portal_live_page
def timezone_set(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """The zone every portal time is shown in (post/redirect/get to the brand page)."""
    form = TimezoneForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a time zone from the list.")
        return redirect("portal:brand")
    try:
        vendor = member_timezone_set(member=member, zone=form.cleaned_data["timezone"])
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Times are shown in {vendor.timezone}.")
    return redirect("portal:brand")


@portal_live_page
def tax_details(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """The vendor's country and VAT number, which the VAT rules tax its purchases by
    (ttelgo/tax.py): validated when saved, a refusal shown under its field."""
    vendor = member.vendor
    form = TaxDetailsForm(
        request.POST or None,
        initial={"country": vendor.country, "vat_number": vendor.vat_number},
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                member_tax_details_set(
                    member=member,
                    country=form.cleaned_data["country"],
                    vat_number=form.cleaned_data["vat_number"],
                )
            except DomainError as exc:
                _field_errors(form, exc)
            else:
                if vendor.vat_number and not vendor.vat_number_valid:
                    messages.warning(
                        request,
                        "Saved. The VAT number could not be checked now; it is checked again "
                        "when you save it later, and until then your purchases carry VAT.",
                    )
                else:
                    messages.success(request, "Your tax details are saved.")
                return redirect("portal:tax-details")
    return render(
        request,
        "portal/tax_details.html",
        _context(member, form=form, may_billing=member_may(member, "billing.manage")),
        status=status,
    )


def _field_errors(form: forms.Form, exc: DomainError) -> None:
    details = exc.details or {}
    placed = False
    for field, problems in details.items():
        if field in form.fields:
            form.add_error(field, problems if isinstance(problems, list) else [str(problems)])
            placed = True
    if not placed:
        form.add_error(None, exc.message)


@portal_page
def support(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """The vendor's tickets of the portal's mode and a form to open one about an eSIM of
    that mode (answers also arrive by email)."""
    form = TicketForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                ticket_open(
                    vendor=member.vendor,
                    subject=form.cleaned_data["subject"],
                    body=form.cleaned_data["body"],
                    iccid=form.cleaned_data["iccid"],
                    via=TicketMessage.Via.PAGE,
                )
            except DomainError as exc:
                _field_errors(form, exc)
            else:
                messages.success(request, "We have your message; we answer by email and here.")
                return redirect("portal:support")
    tickets = tickets_of_vendor(member.vendor).prefetch_related(
        Prefetch("messages", queryset=TicketMessage.objects.exclude(author="note"))
    )
    context = _context(member, form=form, tickets=tickets)
    return render(request, "portal/support.html", context, status=status)


@portal_page
def webhooks(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """Endpoints (create; the secret shown once), their state, and the latest deliveries
    with their attempts."""
    form = EndpointForm(request.POST or None)
    secret: str | None = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                _endpoint, secret = member_endpoint_create(
                    member=member, url=form.cleaned_data["url"], events=form.cleaned_data["events"]
                )
            except DomainError as exc:
                _field_errors(form, exc)
            else:
                status, form = 200, EndpointForm()
    return _webhooks_page(request, member, form=form, secret=secret, status=status)


NEW_SECRET_KEY = "portal_new_webhook_secret"  # noqa: S105 (a session key)
NEW_SECRET_PURPOSE = "ttelgo.portal.new_webhook_secret"  # noqa: S105 (a key purpose)


def _secret_shown_once(request: HttpRequest) -> str | None:
    sealed = request.session.pop(NEW_SECRET_KEY, None)
    return decrypt(sealed, purpose=NEW_SECRET_PURPOSE) if sealed else None


def _webhooks_page(
    request: HttpRequest,
    member: VendorUser,
    *,
    form: EndpointForm | None = None,
    secret: str | None = None,
    status: int = 200,
) -> HttpResponse:
    endpoints = list(webhook_selectors.endpoint_list(vendor=member.vendor))
    deliveries = (
        WebhookDelivery.objects.filter(vendor=member.vendor)
        .select_related("event", "endpoint")
        .prefetch_related("attempts")
        .order_by("-created_at", "-id")[:50]
    )
    context = _context(
        member,
        form=form or EndpointForm(),
        secret=secret or _secret_shown_once(request),
        endpoints=endpoints,
        auto_disabled=[e for e in endpoints if not e.enabled and e.disabled_automatically],
        now=timezone.now(),
        webhook_timeout=settings.WEBHOOKS_TIMEOUT_SECONDS,
        webhook_concurrency=settings.WEBHOOKS_ENDPOINT_CONCURRENCY,
        backoff_after=ENDPOINT_BACKOFF_AFTER,
        disable_after_days=settings.WEBHOOKS_ENDPOINT_DISABLE_AFTER_DAYS,
        deliveries=deliveries,
        may_webhooks=member_may(member, "webhooks.manage"),
    )
    return render(request, "portal/webhooks.html", context, status=status)


@require_POST
@portal_page
def webhook_action(
    request: HttpRequest, member: VendorUser, endpoint_id: int, action: str
) -> HttpResponse:
    """rotate (the new secret shown once; the old one keeps signing for the overlap),
    test, enable, disable."""
    try:
        if action == "rotate":
            endpoint, secret = member_endpoint_rotate(member=member, endpoint_id=endpoint_id)
            messages.success(request, f"New secret for {endpoint.url}; the old one still signs.")
            # Post/redirect/get: the webhooks page shows it once (encrypted in the session
            # until then), and a reload does not offer to rotate again.
            request.session[NEW_SECRET_KEY] = encrypt(secret, purpose=NEW_SECRET_PURPOSE)
            return redirect("portal:webhooks")
        if action == "test":
            member_endpoint_test(member=member, endpoint_id=endpoint_id)
            messages.success(request, "A webhook.test event is on its way.")
        elif action in ("enable", "disable"):
            member_endpoint_enabled_set(
                member=member, endpoint_id=endpoint_id, enabled=action == "enable"
            )
            messages.success(request, f"Endpoint {action}d.")
        else:
            messages.error(request, "Unknown action.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("portal:webhooks")


@portal_page
def webhook_edit(request: HttpRequest, member: VendorUser, endpoint_id: int) -> HttpResponse:
    """Change an endpoint's URL and events (its secret stays)."""
    try:
        endpoint = member_endpoint_get(member=member, endpoint_id=endpoint_id)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    initial = {"url": endpoint.url, "events": endpoint.events}
    form = EndpointForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                member_endpoint_update(
                    member=member,
                    endpoint_id=endpoint_id,
                    url=form.cleaned_data["url"],
                    events=form.cleaned_data["events"],
                )
            except DomainError as exc:
                _field_errors(form, exc)
            else:
                messages.success(request, "The endpoint is saved; its secret is unchanged.")
                return redirect("portal:webhooks")
    context = _context(member, form=form, endpoint=endpoint)
    return render(request, "portal/webhook_edit.html", context, status=status)


@portal_page
def webhook_delivery(request: HttpRequest, member: VendorUser, delivery_id: int) -> HttpResponse:
    """One delivery: the exact body sent, and each attempt's status, latency and answer."""
    try:
        delivery = member_delivery_get(member=member, delivery_id=delivery_id)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    context = _context(
        member,
        delivery=delivery,
        body=json.dumps(json.loads(event_body(delivery.event)), indent=2),
        attempts=delivery.attempts.order_by("attempted_at", "id"),
        may_webhooks=member_may(member, "webhooks.manage"),
    )
    return render(request, "portal/webhook_delivery.html", context)


@require_POST
@portal_page
def webhook_retry_many(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """Replay the deliveries ticked on the webhooks page."""
    ids = [int(v) for v in request.POST.getlist("delivery") if v.isdigit()]
    if not ids:
        messages.error(request, "Tick the deliveries to send again.")
        return redirect("portal:webhooks")
    try:
        count = member_deliveries_retry(member=member, delivery_ids=ids)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{count} deliveries are sent again.")
    return redirect("portal:webhooks")


@require_POST
@portal_page
def webhook_retry(request: HttpRequest, member: VendorUser, delivery_id: int) -> HttpResponse:
    try:
        member_delivery_retry(member=member, delivery_id=delivery_id)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The delivery is sent again.")
    return redirect("portal:webhooks")
