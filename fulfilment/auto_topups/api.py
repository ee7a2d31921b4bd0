"""Auto top-up rules in the API: customers at /auto-topups (one eSIM per rule, paid from
the card they saved), vendors at /vendor/auto-topups (per eSIM, or one default rule for
all their eSIMs when `iccid` is left out). Each rule shows its latest firings."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfilment.auto_topups.models import AutoTopupRule, AutoTopupRun
from fulfilment.auto_topups.services import (
    auto_topup_rule_create,
    auto_topup_rule_delete,
    auto_topup_rule_update,
)
from payments.services import saved_card_of
from ttelgo.errors import DomainError
from ttelgo.fields import LivemodeField
from ttelgo.idempotency import idempotent
from vendors.auth import VendorApiMixin


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = AutoTopupRun
        fields = ("id", "trigger", "status", "order_id", "detail", "created_at")


class RuleSerializer(serializers.ModelSerializer):
    iccid = serializers.SerializerMethodField()
    runs = serializers.SerializerMethodField()
    livemode = LivemodeField()

    class Meta:
        model = AutoTopupRule
        fields = (
            "id",
            "iccid",
            "bundle_code",
            "below_percent",
            "expiry_days",
            "monthly_limit",
            "active",
            "created_at",
            "runs",
            "livemode",
        )

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_iccid(self, rule: AutoTopupRule) -> str | None:
        return rule.esim.iccid if rule.esim is not None else None

    @extend_schema_field(RunSerializer(many=True))
    def get_runs(self, rule: AutoTopupRule) -> list[dict[str, Any]]:
        return list(RunSerializer(rule.runs.order_by("-created_at", "-id")[:10], many=True).data)


class RuleInputSerializer(serializers.Serializer):
    iccid = serializers.CharField(max_length=22, required=False, allow_blank=True, default="")
    bundle_code = serializers.CharField(max_length=100)
    below_percent = serializers.IntegerField(required=False, allow_null=True, default=None)
    expiry_days = serializers.IntegerField(required=False, allow_null=True, default=None)
    monthly_limit = serializers.IntegerField(required=False, default=3)


class RuleUpdateSerializer(serializers.Serializer):
    bundle_code = serializers.CharField(max_length=100, required=False)
    below_percent = serializers.IntegerField(required=False, allow_null=True)
    expiry_days = serializers.IntegerField(required=False, allow_null=True)
    monthly_limit = serializers.IntegerField(required=False)
    active = serializers.BooleanField(required=False)


class _RulesMixin:
    def _owner(self) -> dict[str, Any]:
        request = self.request  # type: ignore[attr-defined]
        vendor = getattr(request, "vendor", None)
        return {"vendor": vendor} if vendor is not None else {"customer": request.user}

    def _rules(self) -> QuerySet[AutoTopupRule]:
        return AutoTopupRule.objects.filter(active=True, **self._owner()).select_related("esim")

    def _rule(self, rule_id: int) -> AutoTopupRule:
        rule = self._rules().filter(pk=rule_id).first()
        if rule is None:
            raise DomainError("not_found", "Auto top-up rule not found.")
        return rule


class AutoTopupListCreateApi(_RulesMixin, generics.ListAPIView):
    serializer_class = RuleSerializer

    def get_queryset(self) -> QuerySet[AutoTopupRule]:
        return self._rules()

    @extend_schema(request=RuleInputSerializer, responses={201: RuleSerializer})
    @idempotent(atomic=False)
    def post(self, request: Request) -> Response:
        data = RuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        owner = self._owner()
        if "customer" in owner:
            if not values["iccid"]:
                raise DomainError(
                    "validation_error",
                    "Name the eSIM to top up.",
                    details={"iccid": ["Required."]},
                )
            card = saved_card_of(request.user)
            if card is None:
                raise DomainError(
                    "invalid_state",
                    "No card is saved for automatic payments: pay an order with "
                    "`save_card: true` first.",
                )
            values.update(
                payment_method_id=card.payment_method_id,
                stripe_customer_id=card.stripe_customer_id,
            )
        rule = auto_topup_rule_create(**owner, **values)
        body = RuleSerializer(rule, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class AutoTopupDetailApi(_RulesMixin, APIView):
    @extend_schema(responses={200: RuleSerializer})
    def get(self, request: Request, rule_id: int) -> Response:
        return Response(RuleSerializer(self._rule(rule_id), context={"request": request}).data)

    @extend_schema(request=RuleUpdateSerializer, responses={200: RuleSerializer})
    def patch(self, request: Request, rule_id: int) -> Response:
        rule = self._rule(rule_id)
        data = RuleUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        actor = self._owner().get("customer") or f"vendor:{rule.vendor_id}"
        rule = auto_topup_rule_update(rule=rule, actor=actor, **data.validated_data)
        return Response(RuleSerializer(rule, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, rule_id: int) -> Response:
        rule = self._rule(rule_id)
        actor = self._owner().get("customer") or f"vendor:{rule.vendor_id}"
        auto_topup_rule_delete(rule=rule, actor=actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class VendorAutoTopupListCreateApi(VendorApiMixin, AutoTopupListCreateApi):
    pass


class VendorAutoTopupDetailApi(VendorApiMixin, AutoTopupDetailApi):
    pass
