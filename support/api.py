"""Support tickets in the API: customers at /tickets, vendors at /vendor/tickets."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from support import services
from support.models import Ticket, TicketMessage
from ttelgo.errors import DomainError
from ttelgo.idempotency import idempotent
from vendors.auth import VendorApiMixin


class TicketInputSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=200)
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
    messages = TicketMessageSerializer(many=True, read_only=True)

    class Meta:
        model = Ticket
        fields = (
            "id",
            "subject",
            "status",
            "order_id",
            "iccid",
            "created_at",
            "updated_at",
            "messages",
        )


class _TicketsMixin:
    """Which tickets the caller sees: a vendor's or a customer's own, never another's."""

    def _owner(self) -> dict[str, Any]:
        request = self.request  # type: ignore[attr-defined]
        vendor = getattr(request, "vendor", None)
        return {"vendor": vendor} if vendor is not None else {"customer": request.user}

    def _tickets(self) -> QuerySet[Ticket]:
        return Ticket.objects.filter(**self._owner()).prefetch_related("messages")

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
        if ticket.status == Ticket.Status.CLOSED:
            raise DomainError("invalid_state", "This ticket is closed; open a new one.")
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
