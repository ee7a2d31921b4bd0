"""Support tickets: a conversation between a customer or a vendor and the operators."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ttelgo.validators import validate_single_line


class Ticket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"  # waiting for the operators
        ANSWERED = "answered"  # waiting for the customer or vendor
        CLOSED = "closed"

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    vendor = models.ForeignKey(
        "vendors.Vendor", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    subject = models.CharField(max_length=200, validators=[validate_single_line])
    # A vendor's test key opens test tickets: still the company's (`vendor` is the live
    # vendor, whom the operators know), seen only in test mode and only about test orders
    # and eSIMs. Customers' tickets are live.
    livemode = models.BooleanField(default=True, db_default=True)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    iccid = models.CharField(max_length=22, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        help_text="the operator working on it",
    )
    # Since when the requester has been waiting for an answer (NULL once answered): the
    # SLA clock, SUPPORT_SLA_HOURS from this moment.
    waiting_since = models.DateTimeField(null=True, blank=True)
    # The requester's language (a ticket opened from the eSIM's page): answers are
    # emailed in it.
    language = models.CharField(max_length=8, default="en")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(customer__isnull=False, vendor__isnull=True)
                | Q(customer__isnull=True, vendor__isnull=False),
                name="ticket_one_requester",
            )
        ]
        indexes = [models.Index(fields=["status", "updated_at"], name="ticket_status_age")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"


class TicketMessage(models.Model):
    class Author(models.TextChoices):
        REQUESTER = "requester"  # the customer or the vendor
        OPERATOR = "operator"
        NOTE = "note"  # an operator's internal note: never shown or sent to the requester

    class Via(models.TextChoices):
        API = "api"
        PAGE = "page"  # the eSIM's page or the ticket's reply link
        EMAIL = "email"  # a reply by email (the inbound-email endpoint)
        CONSOLE = "console"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=16, choices=Author.choices)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField()
    via = models.CharField(max_length=8, choices=Via.choices, default=Via.API)

    class Email(models.TextChoices):
        QUEUED = "queued"  # in the outbox, on its way
        SENT = "sent"
        FAILED = "failed"  # the operators see why, and the ticket is back in their queue

    # The email's Message-ID for a reply by email: the same email twice adds one message.
    message_id = models.CharField(max_length=255, blank=True)
    # An operator's answer is emailed to the requester: how far that got ("" when there is
    # nothing to send, such as a requester without an address or an internal note).
    email_status = models.CharField(max_length=8, choices=Email.choices, blank=True)
    email_error = models.CharField(max_length=500, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        constraints = [
            models.UniqueConstraint(
                fields=["message_id"],
                condition=~Q(message_id=""),
                name="ticket_message_email_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.author} on #{self.ticket_id}"
