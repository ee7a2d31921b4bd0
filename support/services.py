"""Open a ticket, add to it, answer it. A ticket names an order or an eSIM only if the
requester owns it. The other side hears of each new message: operators by email to
SUPPORT_EMAIL; a customer or vendor by an email (in the ticket's language) that carries a
reply link and a Reply-To address, both signed for this ticket, so a reply by email or on
the link lands back in the same ticket. Operators' internal notes are never sent."""

from __future__ import annotations

import logging
import re
from smtplib import SMTPRecipientsRefused, SMTPSenderRefused
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext

from fulfilment.models import Esim
from fulfilment.selectors import esim_get_for_buyer
from orders.models import Order
from orders.selectors import order_get_for_buyer
from support.lock_objects import ticket_qs_select_for_update
from support.models import Ticket, TicketMessage
from support.state import TICKET_STATES, ticket_move
from ttelgo.audit import audit_record
from ttelgo.emails import templated_email
from ttelgo.errors import DomainError
from ttelgo.metrics import TICKET_ANSWER_EMAIL_FAILURES
from ttelgo.ops_email import SUPPORT, ops_email_send
from ttelgo.outbox import task_enqueue
from ttelgo.permissions import operator_require
from ttelgo.validators import one_line
from vendors.models import Vendor

logger = logging.getLogger(__name__)
REPLY_SALT = "ttelgo.ticket-reply"
LINK_SALT = "ttelgo.ticket-link"

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
    via: str = TicketMessage.Via.API,
    language: str = "",
) -> Ticket:
    """A customer's ticket, or a vendor's: `vendor` is the one the caller acts as (a
    vendor's test environment for a test key). A test environment's ticket is its live
    vendor's with `livemode=False`, and names only the test environment's orders and
    eSIMs; a live ticket only live ones (one of the other mode is unknown, as another
    vendor's is)."""
    language = language or getattr(customer, "language", "") or "en"
    order = None
    if iccid:
        esim = _owned_esim(iccid=iccid, customer=customer, vendor=vendor)
        order = esim.order
    if order_id is not None:
        order = _owned_order(order_id=order_id, customer=customer, vendor=vendor)
    with transaction.atomic():
        ticket = Ticket.objects.create(
            customer=None if vendor else customer,
            vendor=ticket_vendor(vendor) if vendor else None,
            livemode=vendor.livemode if vendor else True,
            subject=subject.strip(),
            order=order,
            iccid=iccid,
            waiting_since=timezone.now(),
            language=language,
        )
        TicketMessage.objects.create(
            ticket=ticket, author=TicketMessage.Author.REQUESTER, body=body.strip(), via=via
        )
        _tell_operators(ticket, body)
        if ticket.customer_id and ticket.livemode:
            # The traveller hears that the message arrived (sent once, after commit).
            task_enqueue("support.tasks.ticket_received_email", ticket.pk)
    return ticket


def ticket_vendor(vendor: Vendor) -> Vendor:
    """Whose a vendor's ticket is: the live vendor's, whichever mode the caller is in."""
    return vendor.live_vendor or vendor


def tickets_of_vendor(vendor: Vendor) -> QuerySet[Ticket]:
    """The tickets a vendor acting in its mode sees: its company's, of that mode only."""
    return Ticket.objects.filter(vendor=ticket_vendor(vendor), livemode=vendor.livemode)


def ticket_reply_by_requester(
    *, ticket: Ticket, body: str, via: str = TicketMessage.Via.API, message_id: str = ""
) -> TicketMessage | None:
    """The requester writes again: the ticket is open (waiting for us) again. A reply by
    email already added (same Message-ID) adds nothing and returns None."""
    closed = DomainError("invalid_state", "This ticket is closed; open a new one.")
    if not TICKET_STATES.may("reply", ticket.status):
        raise closed
    try:
        with transaction.atomic():
            message = TicketMessage.objects.create(
                ticket=ticket,
                author=TicketMessage.Author.REQUESTER,
                body=body.strip(),
                via=via,
                message_id=message_id[:255],
            )
            now = timezone.now()
            # Compare-and-set: a ticket closed meanwhile takes no reply (nor its message).
            reply = TICKET_STATES.actions["reply"]
            if not ticket_move(ticket.pk, to=Ticket.Status.OPEN, expected=reply, updated_at=now):
                raise closed
            Ticket.objects.filter(pk=ticket.pk, waiting_since__isnull=True).update(
                waiting_since=now
            )
    except IntegrityError:
        return None  # this email was received before
    _tell_operators(ticket, body)
    return message


def operator_ticket_answer(
    *, ticket_id: int, actor: Any, body: str, close: bool = False
) -> TicketMessage:
    """An operator answers; the answer's email to the customer or vendor is queued in the
    outbox with it (`email_status` says how far it got: a failure puts the ticket back in
    the operators' queue, see `ticket_answer_email_failed`)."""
    operator_require(actor, "ttelgo.answer_tickets")
    if not body.strip():
        raise DomainError("validation_error", "Write the answer.", details={"body": ["Required."]})
    with transaction.atomic():
        ticket = (
            ticket_qs_select_for_update(of=("self",))
            .select_related("customer", "vendor")
            .get(pk=ticket_id)
        )
        to = _requester_email(ticket)
        message = TicketMessage.objects.create(
            ticket=ticket,
            author=TicketMessage.Author.OPERATOR,
            operator=actor,
            body=body.strip(),
            via=TicketMessage.Via.CONSOLE,
            email_status=TicketMessage.Email.QUEUED if to else "",
        )
        # Under the row lock, from the status read (an answer may close it, or answer a
        # closed ticket again).
        ticket_move(
            ticket.pk,
            to=Ticket.Status.CLOSED if close else Ticket.Status.ANSWERED,
            expected=ticket.status,
            waiting_since=None,
            assignee_id=ticket.assignee_id or actor.pk,
            updated_at=timezone.now(),
        )
        ticket.refresh_from_db()
        audit_record(
            actor=actor, action="ticket.answer", target=ticket, after={"status": ticket.status}
        )
        if to:
            task_enqueue("support.tasks.ticket_answer_email", message.pk)
    return message


def ticket_answer_email_send(*, message_id: int) -> bool:
    """Send a queued answer's email once; True when it went. A message the mail server
    refuses for good (a bad address, a header it will not take) is recorded as failed;
    the server or the network being away raises OSError for the task to retry. Sent at
    most once per success: a repeat finds the answer no longer queued."""
    message = (
        TicketMessage.objects.select_related("ticket__customer", "ticket__vendor")
        .filter(pk=message_id, email_status=TicketMessage.Email.QUEUED)
        .first()
    )
    if message is None:
        return False
    ticket = message.ticket
    to = _requester_email(ticket)
    if not to:
        ticket_answer_email_failed(message_id=message_id, error="the requester has no address")
        return False
    try:
        _answer_email(ticket, message, to).send()
    except (ValueError, SMTPRecipientsRefused, SMTPSenderRefused) as exc:
        # ValueError: BadHeaderError and malformed addresses; the refusals are for good.
        ticket_answer_email_failed(message_id=message_id, error=exc)
        return False
    TicketMessage.objects.filter(pk=message_id, email_status=TicketMessage.Email.QUEUED).update(
        email_status=TicketMessage.Email.SENT, email_error="", emailed_at=timezone.now()
    )
    return True


def ticket_received_email_send(*, ticket_id: int) -> bool:
    """Acknowledge a customer's new ticket by email, in the ticket's language, with the
    reply address and link of the ticket; True when it went. A refusal for good (a bad
    address) is logged and not retried; the mail server being away raises OSError."""
    ticket = Ticket.objects.select_related("customer").filter(pk=ticket_id).first()
    if ticket is None or not ticket.customer_id:
        return False
    to = _requester_email(ticket)
    if not to:
        return False
    email = templated_email(
        template="ticket_received",
        context={"ticket": ticket, "link": ticket_link_url(ticket)},
        to=to,
        language=ticket.language,
        subject=lambda: gettext("We received your message (ticket #%(id)s)") % {"id": ticket.pk},
        reply_to=[ticket_reply_address(ticket)],
    )
    try:
        email.send()
    except (ValueError, SMTPRecipientsRefused, SMTPSenderRefused) as exc:
        logger.warning("ticket %s: acknowledgement not sent: %s", ticket.pk, exc)
        return False
    return True


def ticket_answer_email_failed(*, message_id: int, error: BaseException | str) -> None:
    """The answer could not be emailed: say so on the answer and, as an internal note, in
    the conversation; the ticket goes back to the operators' queue (open, waiting from
    now), since the requester has not been told. Once per answer."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    with transaction.atomic():
        changed = TicketMessage.objects.filter(
            pk=message_id, email_status=TicketMessage.Email.QUEUED
        ).update(email_status=TicketMessage.Email.FAILED, email_error=text[:500])
        if not changed:
            return
        message = TicketMessage.objects.get(pk=message_id)
        now = timezone.now()
        TicketMessage.objects.create(
            ticket_id=message.ticket_id,
            author=TicketMessage.Author.NOTE,
            body=f"The answer of {message.created_at:%Y-%m-%d %H:%M} could not be emailed "
            f"to the requester ({text[:300]}). Correct the cause and answer again.",
            via=TicketMessage.Via.CONSOLE,
        )
        ticket_move(
            message.ticket_id,
            to=Ticket.Status.OPEN,
            expected=frozenset(TICKET_STATES.allowed),  # whatever the answer made it
            waiting_since=now,
            updated_at=now,
        )
    TICKET_ANSWER_EMAIL_FAILURES.inc()
    logger.warning("ticket answer %s not emailed: %s", message_id, text)


def operator_ticket_note(*, ticket_id: int, actor: Any, body: str) -> TicketMessage:
    """An internal note for other operators: not sent, not shown to the requester."""
    operator_require(actor, "ttelgo.answer_tickets")
    if not body.strip():
        raise DomainError("validation_error", "Write the note.", details={"body": ["Required."]})
    with transaction.atomic():
        ticket = ticket_qs_select_for_update().get(pk=ticket_id)
        return TicketMessage.objects.create(
            ticket=ticket,
            author=TicketMessage.Author.NOTE,
            operator=actor,
            body=body.strip(),
            via=TicketMessage.Via.CONSOLE,
        )


def operator_ticket_assign(*, ticket_id: int, actor: Any, assignee: Any) -> Ticket:
    operator_require(actor, "ttelgo.answer_tickets")
    with transaction.atomic():
        ticket = ticket_qs_select_for_update().get(pk=ticket_id)
        before = ticket.assignee_id
        ticket.assignee = assignee
        ticket.save(update_fields=["assignee", "updated_at"])
        audit_record(
            actor=actor,
            action="ticket.assign",
            target=ticket,
            before={"assignee": before},
            after={"assignee": getattr(assignee, "pk", None)},
        )
    return ticket


# --- the requester's way back: a signed reply address and a signed reply link ----------


def ticket_reply_address(ticket: Ticket) -> str:
    """ticket+<id>-<hmac>@SUPPORT_REPLY_DOMAIN: lower-case hex, so mail servers that fold
    the local part's case keep it valid."""
    return f"ticket+{ticket.pk}-{_reply_mac(ticket.pk)}@{settings.SUPPORT_REPLY_DOMAIN}"


def _reply_mac(ticket_id: int) -> str:
    return salted_hmac(REPLY_SALT, str(ticket_id), algorithm="sha256").hexdigest()[:24]


REPLY_ADDRESS = re.compile(r"ticket\+(?P<id>\d+)-(?P<mac>[0-9a-f]{24})@", re.IGNORECASE)


def ticket_from_reply_address(addresses: str) -> Ticket | None:
    """The ticket a reply was sent to (any of the To/Cc addresses), or None for a forged
    or altered address."""
    for match in REPLY_ADDRESS.finditer(addresses or ""):
        ticket_id = int(match["id"])
        if constant_time_compare(match["mac"].lower(), _reply_mac(ticket_id)):
            return Ticket.objects.filter(pk=ticket_id).first()
    return None


def ticket_link_token(ticket: Ticket) -> str:
    return signing.Signer(salt=LINK_SALT).sign(str(ticket.pk))


def ticket_from_link_token(token: str) -> Ticket | None:
    try:
        ticket_id = signing.Signer(salt=LINK_SALT).unsign(token)
    except signing.BadSignature:
        return None
    return Ticket.objects.filter(pk=int(ticket_id)).first() if ticket_id.isdigit() else None


def ticket_link_url(ticket: Ticket) -> str:
    path = reverse("ticket-page", args=[ticket_link_token(ticket)])
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


QUOTE_START = re.compile(
    r"^(>|On .+ wrote:$|Le .+ a écrit\s?:$|El .+ escribió:$|Am .+ schrieb .+:$|-----Original)",
    re.MULTILINE,
)


def reply_text(body: str) -> str:
    """A reply by email without the quoted conversation under it."""
    match = QUOTE_START.search(body or "")
    return (body[: match.start()] if match else body or "").strip()


def ticket_reply_by_email(
    *, to: str, body: str, message_id: str = ""
) -> tuple[Ticket, TicketMessage | None]:
    ticket = ticket_from_reply_address(to)
    if ticket is None:
        raise DomainError("not_found", "No ticket has this reply address.")
    text = reply_text(body)
    if not text:
        raise DomainError(
            "validation_error", "The reply is empty.", details={"text": ["Required."]}
        )
    return ticket, ticket_reply_by_requester(
        ticket=ticket, body=text, via=TicketMessage.Via.EMAIL, message_id=message_id
    )


def _requester_email(ticket: Ticket) -> str:
    if ticket.customer_id:
        return str(ticket.customer.email)  # type: ignore[union-attr]
    return ticket.vendor.contact_email if ticket.vendor else ""


# The first word of an answer that greets the reader itself (the languages we answer in):
# the email then adds no "Hello," of its own ("Hola: Hola Lucía").
GREETINGS = re.compile(
    r"^\W*(hello|hi|hey|dear|good (morning|afternoon|evening)|hola|buen[oa]s|estimad[oa]s?|"
    r"querid[oa]s?|bonjour|bonsoir|salut|cher|ch[eè]re|madame|monsieur|hallo|guten|liebe[r]?|"
    r"sehr geehrte[r]?|moin|servus)\b",
    re.IGNORECASE,
)


def answer_greets(body: str) -> bool:
    """Whether an answer opens with a greeting of its own."""
    return bool(GREETINGS.match(body.strip()))


def _answer_email(ticket: Ticket, message: TicketMessage, to: str) -> EmailMultiAlternatives:
    context = {
        "ticket": ticket,
        "message": message,
        "link": ticket_link_url(ticket),
        "greet": not answer_greets(message.body),
    }
    return templated_email(
        template="ticket_answer",
        context=context,
        to=to,
        language=ticket.language,
        # one_line: a subject stored before subjects were checked still makes one header
        subject=lambda: (
            gettext("Re: %(subject)s (ticket #%(id)s)")
            % {"subject": one_line(ticket.subject), "id": ticket.pk}
        ),
        reply_to=[ticket_reply_address(ticket)],
    )


def _tell_operators(ticket: Ticket, body: str) -> None:
    """Queue the operators' email of a new ticket or reply (in the caller's transaction,
    or on its own)."""
    mode = "" if ticket.livemode else " [test mode]"
    ops_email_send(f"[support]{mode} #{ticket.pk} {ticket.subject}", body, mailbox=SUPPORT)
