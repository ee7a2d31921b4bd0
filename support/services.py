"""Open a ticket, add to it, answer it. A ticket names an order or an eSIM only if the
requester owns it; the other side hears of each new message (operators by email to
SUPPORT_EMAIL, a customer or vendor by email)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from orders.esim_records import Esim
from orders.models import Order
from orders.selectors import esim_get_for_buyer, order_get_for_buyer
from support.models import Ticket, TicketMessage
from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.permissions import operator_require
from vendors.models import Vendor

# The order or eSIM a ticket names is a field of its body: one the requester does not own
# is a validation error on that field (the buyer lookups of orders.selectors say 404).


def _owned_order(*, order_id: int, customer: Any, vendor: Vendor | None) -> Order:
    try:
        return order_get_for_buyer(order_id=order_id, customer=customer, vendor=vendor)
    except DomainError:
        raise DomainError(
            "validation_error", "No such order.", details={"order_id": ["Unknown."]}
        ) from None


def _owned_esim(*, iccid: str, customer: Any, vendor: Vendor | None) -> Esim:
    try:
        return esim_get_for_buyer(iccid=iccid, customer=customer, vendor=vendor)
    except DomainError:
        raise DomainError(
            "validation_error", "No such eSIM.", details={"iccid": ["Unknown."]}
        ) from None


def ticket_open(
    *,
    subject: str,
    body: str,
    customer: Any = None,
    vendor: Vendor | None = None,
    order_id: int | None = None,
    iccid: str = "",
) -> Ticket:
    order = None
    if iccid:
        esim = _owned_esim(iccid=iccid, customer=customer, vendor=vendor)
        order = esim.order
    if order_id is not None:
        order = _owned_order(order_id=order_id, customer=customer, vendor=vendor)
    with transaction.atomic():
        ticket = Ticket.objects.create(
            customer=None if vendor else customer,
            vendor=vendor,
            subject=subject.strip(),
            order=order,
            iccid=iccid,
        )
        TicketMessage.objects.create(
            ticket=ticket, author=TicketMessage.Author.REQUESTER, body=body.strip()
        )
    _tell_operators(ticket, body)
    return ticket


def ticket_reply_by_requester(*, ticket: Ticket, body: str) -> TicketMessage:
    with transaction.atomic():
        message = TicketMessage.objects.create(
            ticket=ticket, author=TicketMessage.Author.REQUESTER, body=body.strip()
        )
        Ticket.objects.filter(pk=ticket.pk).update(
            status=Ticket.Status.OPEN, updated_at=timezone.now()
        )
    _tell_operators(ticket, body)
    return message


def operator_ticket_answer(
    *, ticket_id: int, actor: Any, body: str, close: bool = False
) -> TicketMessage:
    """An operator answers; the customer or vendor is emailed the answer."""
    operator_require(actor, "ttelgo.answer_tickets")
    if not body.strip():
        raise DomainError("validation_error", "Write the answer.", details={"body": ["Required."]})
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        message = TicketMessage.objects.create(
            ticket=ticket, author=TicketMessage.Author.OPERATOR, operator=actor, body=body.strip()
        )
        ticket.status = Ticket.Status.CLOSED if close else Ticket.Status.ANSWERED
        ticket.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor, action="ticket.answer", target=ticket, after={"status": ticket.status}
        )
    email = (
        ticket.customer.email
        if ticket.customer
        else (ticket.vendor.contact_email if ticket.vendor else "")
    )
    if email:
        send_mail(
            subject=f"Re: {ticket.subject} (ticket #{ticket.pk})",
            message=f"{body.strip()}\n\nReply through the API (ticket #{ticket.pk}).\n\nTTelGo support",
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    return message


def _tell_operators(ticket: Ticket, body: str) -> None:
    if settings.SUPPORT_EMAIL:
        send_mail(
            subject=f"[support] #{ticket.pk} {ticket.subject}",
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[settings.SUPPORT_EMAIL],
        )
