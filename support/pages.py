"""Pages a traveller opens without an account: "I need help" on the eSIM's page opens a
ticket about that eSIM, and a ticket's reply link (in every answer we email) shows the
conversation with a reply form."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods, require_POST

from fulfilment.links import esim_from_page_token
from fulfilment.pages.esim import link_gone, page_language
from support.models import Ticket, TicketMessage
from support.services import (
    ticket_from_link_token,
    ticket_link_token,
    ticket_open,
    ticket_reply_by_requester,
)
from ttelgo.errors import DomainError
from vendors.branding import platform_brand

HELP_PER_HOUR = 5


@require_POST
def esim_help(request: HttpRequest, token: str) -> HttpResponse:
    """The eSIM page's help form: a ticket about this eSIM from the customer who owns it
    (a vendor's end customer is sent to the vendor instead, so the form is not shown)."""
    esim = esim_from_page_token(token)
    if esim is None:
        return link_gone(request)
    language = page_language(request)
    page = f"{reverse('esim-page', args=[token])}?lang={language}"
    customer = esim.order.customer
    message = request.POST.get("message", "").strip()
    if customer is None or not 10 <= len(message) <= 5000 or _too_many(f"esim-help:{esim.pk}"):
        return redirect(f"{page}&help=error#help")
    with translation.override(language):
        subject = gettext("Help with eSIM %(iccid)s") % {"iccid": esim.iccid}
    ticket_open(
        customer=customer,
        subject=subject,
        body=message,
        iccid=esim.iccid,
        via=TicketMessage.Via.PAGE,
        language=language,
    )
    return redirect(f"{page}&help=sent#help")


def _too_many(key: str) -> bool:
    cache.add(key, 0, timeout=3600)
    try:
        return cache.incr(key) > HELP_PER_HOUR
    except ValueError:  # expired between add and incr
        return False


@require_http_methods(["GET", "POST"])
def ticket_page(request: HttpRequest, token: str) -> HttpResponse:
    ticket = ticket_from_link_token(token)
    if ticket is None:
        return link_gone(request)
    language = page_language(request, preferred=ticket.language)
    error = ""
    if request.method == "POST":
        body = request.POST.get("body", "").strip()
        with translation.override(language):
            if not body:
                error = gettext("Write your reply first.")
            elif _too_many(f"ticket-reply:{ticket.pk}"):
                error = gettext("Too many replies: try again in an hour.")
            else:
                try:
                    ticket_reply_by_requester(ticket=ticket, body=body, via=TicketMessage.Via.PAGE)
                except DomainError as exc:
                    error = exc.message
        if not error:
            path = reverse("ticket-page", args=[ticket_link_token(ticket)])
            return redirect(f"{path}?lang={language}&sent=1")
    ticket = Ticket.objects.get(pk=ticket.pk)
    context = {
        "ticket": ticket,
        "conversation": ticket.messages.exclude(author=TicketMessage.Author.NOTE),
        "brand": platform_brand(),
        "language": language,
        "languages": settings.LANGUAGES,
        "sent": request.GET.get("sent") == "1",
        "error": error,
    }
    with translation.override(language):
        response = render(request, "support/ticket.html", context, status=400 if error else 200)
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
