"""Support tickets: a conversation between a customer or a vendor and the operators."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


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
    subject = models.CharField(max_length=200)
    order = models.ForeignKey(
        "orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    iccid = models.CharField(max_length=22, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
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

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=16, choices=Author.choices)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")

    def __str__(self) -> str:
        return f"{self.author} on #{self.ticket_id}"
