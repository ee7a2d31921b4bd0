"""Support tickets in the API: customers at /tickets, vendors at /vendor/tickets."""

from __future__ import annotations

import base64
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils.crypto import constant_time_compare
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from support import services
from support.models import Ticket, TicketMessage
from ttelgo.errors import DomainError
from ttelgo.fields import SingleLineCharField
from ttelgo.idempotency import idempotent
from vendors.auth import VendorApiMixin


class TicketInputSerializer(serializers.Serializer):
    subject = SingleLineCharField(max_length=200)
    body = serializers.CharField(max_length=10000)
    order_id = serializers.IntegerField(required=False, min_value=1)
    iccid = serializers.CharField(required=False, max_length=22)


class MessageInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10000)


class TicketMessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketMessage
        fields = ("id", "author", "body", "created_at")


class TicketSerializer(serializers.ModelSerializer):
    order_id = serializers.IntegerField(allow_null=True, read_only=True)
    livemode = serializers.BooleanField(read_only=True, help_text="false for a test-mode ticket")
    messages = TicketMessageSerializer(many=True, read_only=True)

    class Meta:
        model = Ticket
        fields = (
            "id",
            "subject",
            "status",
            "livemode",
            "order_id",
            "iccid",
            "created_at",
            "updated_at",
            "messages",
        )


class _TicketsMixin:
    """Which tickets the caller sees: a vendor's or a customer's own, never another's."""

    def _owner(self) -> dict[str, Any]:
        """Who opens a ticket: the customer, or the vendor the key acts as (a test key's
        test environment: its ticket is the live vendor's, in test mode)."""
        request = self.request  # type: ignore[attr-defined]
        vendor = getattr(request, "vendor", None)
        if vendor is None:
            return {"customer": request.user}
        return {"vendor": vendor}

    def _tickets(self) -> QuerySet[Ticket]:
        request = self.request  # type: ignore[attr-defined]
        vendor = getattr(request, "vendor", None)
        # A key sees its company's tickets of its own mode; a customer their own.
        mine = (
            services.tickets_of_vendor(vendor)
            if vendor is not None
            else Ticket.objects.filter(customer=request.user, livemode=True)
        )
        # Operators' internal notes are never shown to the requester.
        public = TicketMessage.objects.exclude(author=TicketMessage.Author.NOTE)
        return mine.prefetch_related(Prefetch("messages", queryset=public))

    def _ticket(self, ticket_id: int) -> Ticket:
        ticket = self._tickets().filter(pk=ticket_id).first()
        if ticket is None:
            raise DomainError("not_found", "Ticket not found.")
        return ticket


class TicketListApi(_TicketsMixin, generics.ListAPIView):
    serializer_class = TicketSerializer

    def get_queryset(self) -> QuerySet[Ticket]:
        return self._tickets()

    @extend_schema(request=TicketInputSerializer, responses={201: TicketSerializer})
    @idempotent()
    def post(self, request: Request) -> Response:
        data = TicketInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        owner = self._owner()
        ticket = services.ticket_open(
            customer=owner.get("customer"), vendor=owner.get("vendor"), **data.validated_data
        )
        return Response(
            TicketSerializer(self._ticket(ticket.pk)).data, status=status.HTTP_201_CREATED
        )


class TicketDetailApi(_TicketsMixin, APIView):
    @extend_schema(responses={200: TicketSerializer})
    def get(self, request: Request, ticket_id: int) -> Response:
        return Response(TicketSerializer(self._ticket(ticket_id)).data)


class TicketMessageCreateApi(_TicketsMixin, APIView):
    @extend_schema(request=MessageInputSerializer, responses={201: TicketSerializer})
    @idempotent()
    def post(self, request: Request, ticket_id: int) -> Response:
        ticket = self._ticket(ticket_id)  # another's ticket is 404 whatever the body
        data = MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.ticket_reply_by_requester(ticket=ticket, body=data.validated_data["body"])
        return Response(
            TicketSerializer(self._ticket(ticket_id)).data, status=status.HTTP_201_CREATED
        )


class VendorTicketListApi(VendorApiMixin, TicketListApi):
    pass


class VendorTicketDetailApi(VendorApiMixin, TicketDetailApi):
    pass


class VendorTicketMessageCreateApi(VendorApiMixin, TicketMessageCreateApi):
    pass


def _first(data: Any, *names: str) -> str:
    for name in names:
        value = data.get(name)
        if value:
            return str(value)
    return ""


class InboundEmailApi(APIView):
    """Replies by email to a ticket's answer, posted by the mail provider's inbound hook
    (Postmark, Mailgun and similar; JSON or form fields). Authenticated with
    INBOUND_EMAIL_SECRET as a Bearer token or as the Basic-auth password; the ticket is
    the one whose signed reply address the email was sent to. The same email (Message-ID)
    twice adds one message."""

    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]

    def post(self, request: Request) -> Response:
        if not _inbound_authorised(request.headers.get("Authorization", "")):
            raise DomainError("not_authenticated", "The inbound-email secret is missing or wrong.")
        data = request.data
        to = " ".join(
            _first(data, name) for name in ("To", "to", "OriginalRecipient", "recipient", "Cc")
        )
        text = _first(data, "StrippedTextReply", "stripped-text", "TextBody", "body-plain", "text")
        message_id = _first(data, "MessageID", "Message-Id", "message-id", "message_id")
        ticket, message = services.ticket_reply_by_email(to=to, body=text, message_id=message_id)
        return Response({"ticket_id": ticket.pk, "added": message is not None})


def _inbound_authorised(header: str) -> bool:
    secret = settings.INBOUND_EMAIL_SECRET
    if not secret:
        return False
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return constant_time_compare(value.strip(), secret)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        return constant_time_compare(decoded.partition(":")[2], secret)
    return False
