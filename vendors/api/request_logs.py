"""Vendor API: the vendor's own request log (`GET /api/v1/vendor/request-logs`)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ttelgo.errors import DomainError
from ttelgo.fields import LivemodeField
from ttelgo.filters import QueryFilters, query_filters
from vendors.auth import VendorApiMixin
from vendors.models import ApiRequestLog
from vendors.request_log import request_log_list


class RequestLogFilters(QueryFilters):
    method = serializers.ChoiceField(
        choices=["GET", "POST", "PUT", "PATCH", "DELETE"], required=False
    )
    status = serializers.IntegerField(required=False, min_value=100, max_value=599)
    path = serializers.CharField(required=False, max_length=300, help_text="part of the path")
    request_id = serializers.CharField(required=False, max_length=128)
    idempotency_key = serializers.CharField(required=False, max_length=255)
    created_from = serializers.DateTimeField(required=False)
    created_to = serializers.DateTimeField(required=False)


class _LogOutput(serializers.ModelSerializer):
    livemode = LivemodeField()

    class Meta:
        model = ApiRequestLog
        fields: tuple[str, ...] = (
            "id",
            "created_at",
            "method",
            "path",
            "query",
            "status",
            "latency_ms",
            "request_id",
            "idempotency_key",
            "key_prefix",
            "livemode",
        )


class VendorRequestLogListApi(VendorApiMixin, generics.ListAPIView):
    class OutputSerializer(_LogOutput):
        pass

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[ApiRequestLog]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no vendor
            return ApiRequestLog.objects.none()
        return request_log_list(  # type: ignore[no-any-return]
            vendor=self.request.vendor,  # type: ignore[attr-defined]
            **query_filters(self.request, RequestLogFilters),
        )

    @extend_schema(parameters=[RequestLogFilters], tags=["vendor"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class VendorRequestLogDetailApi(VendorApiMixin, APIView):
    class OutputSerializer(_LogOutput):
        class Meta(_LogOutput.Meta):
            fields = (*_LogOutput.Meta.fields, "request_body", "response_body")

    @extend_schema(responses=OutputSerializer, tags=["vendor"])
    def get(self, request: Request, log_id: int) -> Response:
        log = ApiRequestLog.objects.filter(
            pk=log_id,
            vendor=request.vendor,  # type: ignore[attr-defined]
        ).first()
        if log is None:
            raise DomainError("not_found", "Request log entry not found.")
        return Response(self.OutputSerializer(log, context={"request": request}).data)
