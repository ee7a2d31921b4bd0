"""Vendor endpoints of IoT SIM fleets under /api/v1/vendor/iot/ (docs/IOT.md). Thin: they
validate, call a selector or service, shape the answer. Every read is scoped to the
calling vendor (another vendor's SIM, SMS or job is a plain 404); every POST takes an
Idempotency-Key (required on the paid top-up)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from iot import selectors, services
from iot.models import (
    IotBulkJob,
    IotFleetSettings,
    IotSim,
    IotSimEvent,
    IotSms,
    IotTopup,
    IotUsageDay,
    QuotaLevel,
)
from ttelgo.fields import MoneyField
from ttelgo.filters import QueryFilters, query_filters
from ttelgo.idempotency import idempotent
from ttelgo.pagination import StatementCursorPagination
from vendors.auth import VendorApiMixin

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True
)
MAX_SIMS_PER_CALL = 10_000
MAX_SMS_PER_CALL = 1_000
MAX_USAGE_DAYS = 186  # 1NCE keeps six months


class FleetCursorPagination(StatementCursorPagination):
    """Cursor pages by id (steady under inserts, cheap at any depth of a 100,000-SIM
    fleet), with the list's `count` as API.md's lists carry it."""

    ordering = "id"
    page_size = 50

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        self.count = queryset.count()
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        response.data = {"count": self.count, **response.data}
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        answer = super().get_paginated_response_schema(schema)
        answer["properties"] = {"count": {"type": "integer"}, **answer["properties"]}
        return answer


class SmsCursorPagination(FleetCursorPagination):
    ordering = "-id"


# --- serializers --------------------------------------------------------------------------
class QuotaSerializer(serializers.Serializer):
    data_left_mb = serializers.SerializerMethodField()
    data_total_mb = serializers.SerializerMethodField()
    sms_left = serializers.IntegerField(allow_null=True)
    sms_total = serializers.IntegerField(allow_null=True)
    data_level = serializers.CharField(help_text="ok | low | exhausted | expired")
    sms_level = serializers.CharField(help_text="ok | low | exhausted | expired")
    expires_at = serializers.DateTimeField(source="quota_expires_at", allow_null=True)

    def get_data_left_mb(self, sim: IotSim) -> str | None:
        return _mb(sim.data_left_bytes)

    def get_data_total_mb(self, sim: IotSim) -> str | None:
        return _mb(sim.data_total_bytes)


def _mb(value: int | None) -> str | None:
    """Bytes as a decimal string of MB with two places (never a float)."""
    if value is None:
        return None
    hundredths = value * 100 // services.BYTES_PER_MB
    return f"{hundredths // 100}.{hundredths % 100:02d}"


class SimSerializer(serializers.Serializer):
    iccid = serializers.CharField()
    imsi = serializers.CharField()
    msisdn = serializers.CharField()
    status = serializers.CharField(help_text="enabled | disabled")
    label = serializers.CharField()  # type: ignore[assignment]
    imei = serializers.CharField()
    imei_lock = serializers.BooleanField()
    activated_at = serializers.DateTimeField(allow_null=True)
    quota = QuotaSerializer(source="*")
    month_data_mb = serializers.SerializerMethodField()
    auto_topup = serializers.BooleanField(
        allow_null=True, help_text="null: follows the fleet setting"
    )
    auto_topup_monthly_cap = serializers.IntegerField(allow_null=True)
    synced_at = serializers.DateTimeField(allow_null=True)
    livemode = serializers.BooleanField()

    def get_month_data_mb(self, sim: IotSim) -> str | None:
        return _mb(sim.month_data_bytes)


class SmsSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    iccid = serializers.CharField(source="sim.iccid")
    direction = serializers.CharField(help_text="mt (to the device) | mo (a reply)")
    text = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    livemode = serializers.BooleanField()


class SimEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    iccid = serializers.CharField(source="sim.iccid")
    kind = serializers.CharField(
        help_text="attach | detach | session_start | session_end | quota_warning"
        " | status_change | other"
    )
    upstream_kind = serializers.CharField(help_text="the provider's event type, as it names it")
    at = serializers.DateTimeField()
    severity = serializers.CharField()
    alert = serializers.BooleanField()
    description = serializers.CharField()
    status = serializers.CharField(help_text="a status change: the status it moved the SIM to")
    livemode = serializers.BooleanField()


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    status = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    livemode = serializers.BooleanField()


class TopupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    iccid = serializers.CharField(source="sim.iccid")
    status = serializers.CharField(help_text="reserved | completed | failed")
    source = serializers.CharField(help_text="api | auto")  # type: ignore[assignment]
    amount = MoneyField(amount_attr="price_amount")
    data_mb = serializers.SerializerMethodField()
    sms = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    livemode = serializers.BooleanField()

    def get_data_mb(self, topup: IotTopup) -> str | None:
        return _mb(topup.data_bytes)


class UsageDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    data_mb = serializers.CharField()
    sms_mo = serializers.IntegerField()
    sms_mt = serializers.IntegerField()


class UsageSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    total_data_mb = serializers.CharField()
    days = UsageDaySerializer(many=True)


class FleetSettingsSerializer(serializers.Serializer):
    auto_topup = serializers.BooleanField(required=False)
    monthly_cap = serializers.IntegerField(
        min_value=0, max_value=1_000_000, required=False, help_text="0: no fleet-wide cap"
    )
    sim_monthly_cap = serializers.IntegerField(min_value=0, max_value=100, required=False)


# --- filters ------------------------------------------------------------------------------
class SimFilters(QueryFilters):
    status = serializers.ChoiceField(choices=IotSim.Status.choices, required=False)
    label = serializers.CharField(max_length=255, required=False)  # type: ignore[assignment]
    label_contains = serializers.CharField(max_length=255, required=False)
    iccid = serializers.CharField(max_length=22, required=False)
    quota_level = serializers.ChoiceField(choices=QuotaLevel.choices, required=False)
    usage_min_mb = serializers.IntegerField(min_value=0, required=False)
    usage_max_mb = serializers.IntegerField(min_value=0, required=False)
    data_left_min_mb = serializers.IntegerField(min_value=0, required=False)
    data_left_max_mb = serializers.IntegerField(min_value=0, required=False)


class SmsFilters(QueryFilters):
    direction = serializers.ChoiceField(choices=IotSms.Direction.choices, required=False)
    iccid = serializers.CharField(max_length=22, required=False)


class EventFilters(QueryFilters):
    kind = serializers.ChoiceField(choices=IotSimEvent.Kind.choices, required=False)
    iccid = serializers.CharField(max_length=22, required=False)
    since = serializers.DateTimeField(required=False, help_text="events at or after this time")


class UsageFilters(QueryFilters):
    start = serializers.DateField(required=False, help_text="default: the month's first day")
    end = serializers.DateField(required=False, help_text="default: today")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today = timezone.now().date()
        start = attrs.get("start") or today.replace(day=1)
        end = attrs.get("end") or today
        if end < start:
            raise serializers.ValidationError({"end": ["Must not be before start."]})
        if (end - start).days >= MAX_USAGE_DAYS:
            raise serializers.ValidationError({"start": [f"At most {MAX_USAGE_DAYS} days."]})
        return {"start": start, "end": end}


def _vendor(request: Request) -> Any:
    return request.vendor  # type: ignore[attr-defined]


def _usage(rows: list[Any], start: date, end: date) -> dict[str, Any]:
    by_day = {r["day"]: r for r in rows}
    days = []
    total = 0
    day = start
    while day <= end:
        row = by_day.get(day) or {}
        total += row.get("data_bytes") or 0
        days.append(
            {
                "day": day,
                "data_mb": _mb(row.get("data_bytes") or 0),
                "sms_mo": row.get("sms_mo") or 0,
                "sms_mt": row.get("sms_mt") or 0,
            }
        )
        day += timedelta(days=1)
    return {"start": start, "end": end, "total_data_mb": _mb(total), "days": days}


# --- SIMs -----------------------------------------------------------------------------------
class SimListApi(VendorApiMixin, generics.ListAPIView):
    serializer_class = SimSerializer
    pagination_class = FleetCursorPagination

    def get_queryset(self) -> QuerySet[IotSim]:
        if getattr(self, "swagger_fake_view", False):
            return IotSim.objects.none()
        return selectors.sim_list_for_vendor(
            vendor=_vendor(self.request), **query_filters(self.request, SimFilters)
        )

    @extend_schema(parameters=[SimFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class SimDetailApi(VendorApiMixin, APIView):
    @extend_schema(responses={200: SimSerializer})
    def get(self, request: Request, iccid: str) -> Response:
        sim = selectors.sim_get_for_vendor(vendor=_vendor(request), iccid=iccid)
        return Response(SimSerializer(sim).data)


class SimActionApi(VendorApiMixin, APIView):
    """A POST on one SIM of the caller's fleet, as every per-SIM action is: the SIM is
    looked up in the caller's fleet (another vendor's, or the other mode's, is a plain
    404), the body validated by `input_serializer`, `act` run under the request's
    Idempotency-Key (a replay answers the first answer and acts nothing), and its result
    answered by `answer_serializer` with `answer_status`. Subclasses set those and `act`;
    `post` (its idempotency and its schema) is made for each subclass from them."""

    input_serializer: type[serializers.Serializer] | None = None
    answer_serializer: type[serializers.Serializer] = SimSerializer
    answer_many = False
    answer_status: int = status.HTTP_200_OK
    idempotency_required = False
    # False: `act` calls the provider between its own transactions (no HTTP inside one).
    atomic = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        answer: Any = cls.answer_serializer(many=True) if cls.answer_many else cls.answer_serializer
        schema = extend_schema(
            request=cls.input_serializer,
            responses={cls.answer_status: answer},
            parameters=[IDEMPOTENCY_HEADER] if cls.idempotency_required else None,
        )
        guarded = idempotent(required=cls.idempotency_required, atomic=cls.atomic)
        cls.post = schema(guarded(SimActionApi._post))  # type: ignore[attr-defined]

    def act(self, request: Request, sim: IotSim, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _post(self, request: Request, iccid: str) -> Response:
        sim = selectors.sim_get_for_vendor(vendor=_vendor(request), iccid=iccid)
        data: dict[str, Any] = {}
        if self.input_serializer is not None:
            given = self.input_serializer(data=request.data)
            given.is_valid(raise_exception=True)
            data = dict(given.validated_data)
        result = self.act(request, sim, data)
        answer = self.answer_serializer(result, many=self.answer_many)
        return Response(answer.data, status=self.status_for(result))

    def status_for(self, result: Any) -> int:
        return self.answer_status


class SimRefreshApi(SimActionApi):
    """Read the SIM, its quotas and its events from the provider now."""

    def act(self, request: Request, sim: IotSim, data: dict[str, Any]) -> Any:
        return services.sim_refresh(sim=sim)


class SimLabelApi(SimActionApi):
    class InputSerializer(serializers.Serializer):
        label = serializers.CharField(max_length=255, allow_blank=True)  # type: ignore[assignment]

    input_serializer = InputSerializer

    def act(self, request: Request, sim: IotSim, data: dict[str, Any]) -> Any:
        return services.sim_label_set(sim=sim, label=data["label"])


class SimStatusApi(SimActionApi):
    """`enable` or `disable` one SIM (409 `invalid_state` when it already is)."""

    target = IotSim.Status.ENABLED

    def act(self, request: Request, sim: IotSim, data: dict[str, Any]) -> Any:
        return services.sim_status_set(sim=sim, to=self.target)


class SimEnableApi(SimStatusApi):
    target = IotSim.Status.ENABLED


class SimDisableApi(SimStatusApi):
    target = IotSim.Status.DISABLED


class SimBulkApi(VendorApiMixin, APIView):
    """Enable or disable many SIMs: one background job, its progress at jobs/{id}."""

    class InputSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=IotBulkJob.Action.choices)
        iccids = serializers.ListField(
            child=serializers.CharField(max_length=22),
            min_length=1,
            max_length=MAX_SIMS_PER_CALL,
        )

    @extend_schema(
        request=InputSerializer, responses={202: JobSerializer}, parameters=[IDEMPOTENCY_HEADER]
    )
    @idempotent(atomic=False)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vendor = _vendor(request)
        sims = selectors.sims_get_for_vendor(vendor=vendor, iccids=data.validated_data["iccids"])
        job = services.bulk_job_create(
            vendor=vendor, sims=sims, action=data.validated_data["action"]
        )
        job.refresh_from_db()  # an eager worker (tests, `make run`) may have run it already
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class JobDetailApi(VendorApiMixin, APIView):
    @extend_schema(responses={200: JobSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.bulk_job_get_for_vendor(vendor=_vendor(request), job_id=job_id)
        return Response(JobSerializer(job).data)


# --- events ---------------------------------------------------------------------------------
class EventListApi(VendorApiMixin, generics.ListAPIView):
    """The fleet's SIM events, newest first (filters: kind, iccid, since)."""

    serializer_class = SimEventSerializer
    pagination_class = SmsCursorPagination

    def get_queryset(self) -> QuerySet[IotSimEvent]:
        if getattr(self, "swagger_fake_view", False):
            return IotSimEvent.objects.none()
        return selectors.event_list_for_vendor(
            vendor=_vendor(self.request), **query_filters(self.request, EventFilters)
        )

    @extend_schema(parameters=[EventFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class SimEventListApi(EventListApi):
    """One SIM's events, newest first (another vendor's SIM: 404)."""

    def get_queryset(self) -> QuerySet[IotSimEvent]:
        if getattr(self, "swagger_fake_view", False):
            return IotSimEvent.objects.none()
        vendor = _vendor(self.request)
        sim = selectors.sim_get_for_vendor(vendor=vendor, iccid=self.kwargs["iccid"])
        filters = query_filters(self.request, EventFilters)
        filters.pop("iccid", None)
        return selectors.event_list_for_vendor(vendor=vendor, sim=sim, **filters)


class SimEventSyncApi(SimActionApi):
    """Read the SIM's latest events from the provider now (also read on a schedule)."""

    answer_serializer = SimEventSerializer
    answer_many = True

    def act(self, request: Request, sim: IotSim, data: dict[str, Any]) -> Any:
        services.sim_events_sync(sim=sim)
        return selectors.event_list_for_vendor(vendor=_vendor(request), sim=sim)[:100]


# --- usage ----------------------------------------------------------------------------------
class SimUsageApi(VendorApiMixin, APIView):
    @extend_schema(parameters=[UsageFilters], responses={200: UsageSerializer})
    def get(self, request: Request, iccid: str) -> Response:
        sim = selectors.sim_get_for_vendor(vendor=_vendor(request), iccid=iccid)
        window = query_filters(request, UsageFilters)
        rows = list(
            IotUsageDay.objects.filter(
                sim=sim, day__gte=window["start"], day__lte=window["end"]
            ).values("day", "data_bytes", "sms_mo", "sms_mt")
        )
        return Response(UsageSerializer(_usage(rows, window["start"], window["end"])).data)


class FleetUsageApi(VendorApiMixin, APIView):
    """The whole fleet's daily totals (from the daily rollup: about 30 rows for a month)."""

    @extend_schema(parameters=[UsageFilters], responses={200: UsageSerializer})
    def get(self, request: Request) -> Response:
        window = query_filters(request, UsageFilters)
        rows = services.month_usage_totals(
            vendor=_vendor(request), start=window["start"], end=window["end"]
        )
        return Response(UsageSerializer(_usage(rows, window["start"], window["end"])).data)


# --- top-ups and auto top-up --------------------------------------------------------------
class SimTopupApi(SimActionApi):
    """Buy one quota top-up for the SIM, paid from the wallet or the credit line: 201
    `completed`, or 202 `reserved` when the provider's answer was lost (settled within
    minutes by the reconciliation; a retry with the same key replays this answer)."""

    answer_serializer = TopupSerializer
    answer_status = status.HTTP_201_CREATED
    idempotency_required = True

    def act(self, request: Request, sim: IotSim, data: dict[str, Any]) -> Any:
        return services.topup_buy(sim=sim)

    def status_for(self, result: Any) -> int:
        if result.status == IotTopup.Status.RESERVED:
            return status.HTTP_202_ACCEPTED
        return self.answer_status


class SimAutoTopupApi(SimActionApi):
    class InputSerializer(serializers.Serializer):
        enabled = serializers.BooleanField(allow_null=True, help_text="null: follow the fleet")
        monthly_cap = serializers.IntegerField(
            min_value=0, max_value=100, required=False, allow_null=True
        )

    input_serializer = InputSerializer
    atomic = True  # records a setting only

    def act(self, request: Request, sim: IotSim, data: dict[str, Any]) -> Any:
        return services.sim_auto_topup_set(
            sim=sim, enabled=data["enabled"], cap=data.get("monthly_cap")
        )


class FleetAutoTopupApi(VendorApiMixin, APIView):
    """Fleet-wide auto top-up: on for SIMs that do not say otherwise, with monthly caps."""

    @extend_schema(responses={200: FleetSettingsSerializer})
    def get(self, request: Request) -> Response:
        fleet = IotFleetSettings.objects.filter(vendor=_vendor(request)).first()
        return Response(FleetSettingsSerializer(fleet or IotFleetSettings()).data)

    @extend_schema(request=FleetSettingsSerializer, responses={200: FleetSettingsSerializer})
    @idempotent()
    def post(self, request: Request) -> Response:
        data = FleetSettingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fleet = services.fleet_settings_set(vendor=_vendor(request), **data.validated_data)
        return Response(FleetSettingsSerializer(fleet).data)


# --- SMS ------------------------------------------------------------------------------------
class SmsListCreateApi(VendorApiMixin, generics.ListAPIView):
    serializer_class = SmsSerializer
    pagination_class = SmsCursorPagination

    class InputSerializer(serializers.Serializer):
        iccids = serializers.ListField(
            child=serializers.CharField(max_length=22), min_length=1, max_length=MAX_SMS_PER_CALL
        )
        text = serializers.CharField(max_length=160)

    def get_queryset(self) -> QuerySet[IotSms]:
        if getattr(self, "swagger_fake_view", False):
            return IotSms.objects.none()
        return selectors.sms_list_for_vendor(
            vendor=_vendor(self.request), **query_filters(self.request, SmsFilters)
        )

    @extend_schema(parameters=[SmsFilters])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=InputSerializer,
        responses={201: SmsSerializer(many=True)},
        parameters=[IDEMPOTENCY_HEADER],
    )
    @idempotent(atomic=False)
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        vendor = _vendor(request)
        sims = selectors.sims_get_for_vendor(vendor=vendor, iccids=data.validated_data["iccids"])
        rows = services.sms_send(vendor=vendor, sims=sims, text=data.validated_data["text"])
        fresh = IotSms.objects.filter(pk__in=[r.pk for r in rows]).select_related("sim")
        return Response(
            SmsSerializer(fresh.order_by("id"), many=True).data, status=status.HTTP_201_CREATED
        )


class SmsSyncApi(SimActionApi):
    """Fetch a SIM's replies from the provider now (they are also polled every minute)."""

    answer_serializer = SmsSerializer
    answer_many = True

    def act(self, request: Request, sim: IotSim, data: dict[str, Any]) -> Any:
        services.sms_sync(sim=sim)
        return selectors.sms_list_for_vendor(vendor=_vendor(request), iccid=sim.iccid)[:100]
