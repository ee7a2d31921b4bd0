"""Vendor API: webhook endpoints and deliveries (API.md "Webhook endpoints")."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ttelgo.filters import QueryFilters, query_filters
from ttelgo.idempotency import idempotent
from vendors.auth import VendorApiMixin
from webhooks import selectors, services
from webhooks.crypto import secret_decrypt, secret_encrypt
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def _secret_sealed(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "secret": secret_encrypt(body["secret"])}


def _secret_unsealed(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "secret": secret_decrypt(body["secret"])}


class _EndpointOutput(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.CharField())
    livemode = serializers.BooleanField(source="vendor.livemode", read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields: tuple[str, ...] = (
            "id",
            "url",
            "events",
            "description",
            "enabled",
            "disabled_reason",
            "secret_rotated_at",
            "previous_secret_expires_at",
            "livemode",
            "created_at",
        )


@extend_schema_field(
    {
        "type": "string",
        "description": "delivery status: " + " | ".join(WebhookDelivery.Status.values),
    }
)
class DeliveryStatusField(serializers.CharField):
    """A plain string in the schema: a `status` enum component would collide with other
    apps' `status` enums (drf-spectacular names enums by field name)."""


class _DeliveryOutput(serializers.ModelSerializer):
    status = DeliveryStatusField(read_only=True)
    event_id = serializers.CharField(source="event.public_id", help_text="the webhook-id")
    event_type = serializers.CharField(source="event.type")
    endpoint_id = serializers.IntegerField()
    attempts = serializers.IntegerField(source="attempt_count")
    livemode = serializers.BooleanField(source="event.livemode", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields: tuple[str, ...] = (
            "id",
            "event_id",
            "event_type",
            "endpoint_id",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_status_code",
            "livemode",
            "created_at",
        )


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = (
            "attempted_at",
            "status_code",
            "latency_ms",
            "succeeded",
            "error",
            "response_body",
        )


_EVENT_CHOICES = [*services.EVENT_TYPES, services.EVERY_EVENT]


def _events_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=_EVENT_CHOICES),
        allow_empty=False,
        max_length=len(_EVENT_CHOICES),
        help_text='event types to receive; ["*"] = every type, including new ones',
        **kwargs,
    )


class VendorWebhookEndpointListApi(VendorApiMixin, generics.ListAPIView):
    class InputSerializer(serializers.Serializer):
        url = serializers.URLField(max_length=2000)
        events = _events_field()
        description = serializers.CharField(
            max_length=200, required=False, allow_blank=True, default=""
        )

    class OutputSerializer(_EndpointOutput):
        pass

    class CreatedSerializer(_EndpointOutput):
        secret = serializers.CharField(help_text="the signing secret; shown only this once")

        class Meta(_EndpointOutput.Meta):
            fields = (*_EndpointOutput.Meta.fields, "secret")

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no vendor
            return WebhookEndpoint.objects.none()
        query_filters(self.request)  # no filters: unknown parameters are refused
        return selectors.endpoint_list(vendor=self.request.vendor)  # type: ignore[attr-defined]

    @extend_schema(tags=["vendor webhooks"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=InputSerializer, responses={201: CreatedSerializer}, tags=["vendor webhooks"]
    )
    # A replay shows the same secret; the stored answer holds it encrypted like the endpoint.
    @idempotent(seal=_secret_sealed, unseal=_secret_unsealed)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = services.endpoint_create(
            vendor=request.vendor,  # type: ignore[attr-defined]
            **data.validated_data,
        )
        endpoint.secret = secret  # type: ignore[attr-defined]
        return Response(self.CreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class VendorWebhookEndpointDetailApi(VendorApiMixin, APIView):
    class UpdateSerializer(serializers.Serializer):
        url = serializers.URLField(max_length=2000, required=False)
        events = _events_field(required=False)
        enabled = serializers.BooleanField(required=False)
        description = serializers.CharField(max_length=200, required=False, allow_blank=True)

    class OutputSerializer(_EndpointOutput):
        pass

    @extend_schema(
        request=UpdateSerializer, responses={200: OutputSerializer}, tags=["vendor webhooks"]
    )
    def patch(self, request: Request, endpoint_id: int) -> Response:
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = selectors.endpoint_get(
            vendor=request.vendor,  # type: ignore[attr-defined]
            endpoint_id=endpoint_id,
        )
        endpoint = services.endpoint_update(endpoint=endpoint, **data.validated_data)
        return Response(self.OutputSerializer(endpoint).data)

    @extend_schema(responses={204: None}, tags=["vendor webhooks"])
    def delete(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.endpoint_get(
            vendor=request.vendor,  # type: ignore[attr-defined]
            endpoint_id=endpoint_id,
        )
        services.endpoint_delete(endpoint=endpoint)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VendorWebhookEndpointRotateSecretApi(VendorApiMixin, APIView):
    class OutputSerializer(_EndpointOutput):
        secret = serializers.CharField(read_only=True, help_text="the new secret, shown once")

        class Meta(_EndpointOutput.Meta):
            fields = (*_EndpointOutput.Meta.fields, "secret")

    @extend_schema(
        operation_id="vendor_webhook_endpoint_rotate_secret",
        summary="Rotate the signing secret",
        description=(
            "Returns a new signing secret, once. The old secret keeps signing beside it "
            "until `previous_secret_expires_at` (a day by default): every delivery in "
            "between carries two signatures in `webhook-signature`, so a receiver that "
            "knows either secret accepts it. Rotating again drops the oldest secret."
        ),
        request=None,
        responses={200: OutputSerializer},
        tags=["vendor webhooks"],
    )
    @idempotent(seal=_secret_sealed, unseal=_secret_unsealed)
    def post(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.endpoint_get(
            vendor=request.vendor,  # type: ignore[attr-defined]
            endpoint_id=endpoint_id,
        )
        endpoint, secret = services.endpoint_secret_rotate(endpoint=endpoint)
        endpoint.secret = secret  # type: ignore[attr-defined]
        return Response(self.OutputSerializer(endpoint).data)


class VendorWebhookEndpointTestApi(VendorApiMixin, APIView):
    class OutputSerializer(_DeliveryOutput):
        pass

    @extend_schema(request=None, responses={202: OutputSerializer}, tags=["vendor webhooks"])
    @idempotent()
    def post(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.endpoint_get(
            vendor=request.vendor,  # type: ignore[attr-defined]
            endpoint_id=endpoint_id,
        )
        delivery = services.endpoint_test(endpoint=endpoint)
        delivery.refresh_from_db()
        return Response(self.OutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryFilters(QueryFilters):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)
    endpoint_id = serializers.IntegerField(required=False, min_value=1)


class VendorWebhookDeliveryListApi(VendorApiMixin, generics.ListAPIView):
    class OutputSerializer(_DeliveryOutput):
        pass

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no vendor
            return WebhookDelivery.objects.none()
        return selectors.delivery_list(
            vendor=self.request.vendor,  # type: ignore[attr-defined]
            **query_filters(self.request, DeliveryFilters),
        )

    @extend_schema(
        parameters=[DeliveryFilters],
        tags=["vendor webhooks"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class VendorWebhookDeliveryDetailApi(VendorApiMixin, APIView):
    class OutputSerializer(_DeliveryOutput):
        attempt_log = WebhookAttemptSerializer(source="attempts", many=True)

        class Meta(_DeliveryOutput.Meta):
            fields = (*_DeliveryOutput.Meta.fields, "attempt_log")

    @extend_schema(responses=OutputSerializer, tags=["vendor webhooks"])
    def get(self, request: Request, delivery_id: int) -> Response:
        delivery = selectors.delivery_get(
            vendor=request.vendor,  # type: ignore[attr-defined]
            delivery_id=delivery_id,
        )
        return Response(self.OutputSerializer(delivery).data)


class VendorWebhookDeliveryRetryApi(VendorApiMixin, APIView):
    class OutputSerializer(_DeliveryOutput):
        pass

    @extend_schema(request=None, responses={202: OutputSerializer}, tags=["vendor webhooks"])
    @idempotent()
    def post(self, request: Request, delivery_id: int) -> Response:
        delivery = selectors.delivery_get(
            vendor=request.vendor,  # type: ignore[attr-defined]
            delivery_id=delivery_id,
        )
        delivery = services.delivery_retry(delivery=delivery)
        return Response(self.OutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
