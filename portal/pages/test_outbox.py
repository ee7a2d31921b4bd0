"""Test mode's outbox: the emails test-mode orders would have sent travellers, kept and
shown here instead of sent (fulfilment/emails.py `email_send_or_keep`)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from fulfilment.models import TestModeEmail
from portal.views import _context, portal_page
from vendors.models import VendorUser

SHOWN = 50


@portal_page
def test_outbox(request: HttpRequest, member: VendorUser) -> HttpResponse:
    """The test environment's latest kept emails, newest first (none in live mode, where
    emails are sent)."""
    emails = (
        TestModeEmail.objects.filter(vendor=member.vendor).order_by("-created_at", "-id")[:SHOWN]
        if not member.vendor.livemode
        else []
    )
    context = _context(member, emails=emails, shown=SHOWN)
    return render(request, "portal/test_outbox.html", context)
