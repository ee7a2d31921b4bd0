"""Output shapes shared by the customer and vendor order/eSIM endpoints (API.md)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from esims.qr import apple_install_url
from esims.records import Esim
from orders.models import Order, OrderItem
from orders.selectors import order_payment
from ttelgo.money import money_api


class MoneyOutputSerializer(serializers.Serializer):
    amount = serializers.CharField()
    currency = serializers.CharField()


class OrderItemOutputSerializer(serializers.ModelSerializer):
    unit_price = serializers.SerializerMethodField()

    class Meta:
        model = OrderItem
        fields = ("bundle_code", "bundle_name", "quantity", "unit_price")

    @extend_schema_field(MoneyOutputSerializer)
    def get_unit_price(self, item: OrderItem) -> dict[str, str]:
        return money_api(item.unit_price, item.currency)


class EsimActivationSerializer(serializers.Serializer):
    ios_url = serializers.CharField()


class EsimDataSerializer(serializers.Serializer):
    initial_mb = serializers.IntegerField()
    remaining_mb = serializers.IntegerField()
    unlimited = serializers.BooleanField()


class EsimOutputSerializer(serializers.ModelSerializer):
    lpa = serializers.CharField(read_only=True)
    activation = serializers.SerializerMethodField()
    data = serializers.SerializerMethodField()  # type: ignore[assignment]  # API field name

    class Meta:
        model = Esim
        fields = (
            "iccid",
            "status",
            "bundle_code",
            "lpa",
            "smdp_address",
            "matching_id",
            "activation",
            "data",
            "expires_at",
            "order_id",
        )

    @extend_schema_field(EsimActivationSerializer)
    def get_activation(self, esim: Esim) -> dict[str, str]:
        return {"ios_url": apple_install_url(esim.lpa)}

    @extend_schema_field(EsimDataSerializer)
    def get_data(self, esim: Esim) -> dict[str, Any]:
        return {
            "initial_mb": esim.initial_mb,
            "remaining_mb": esim.remaining_mb,
            "unlimited": esim.unlimited,
        }


class EsimUsageOutputSerializer(serializers.Serializer):
    initial_mb = serializers.IntegerField()
    used_mb = serializers.IntegerField()
    remaining_mb = serializers.IntegerField()
    unlimited = serializers.BooleanField()
    state = serializers.CharField()
    updated_at = serializers.DateTimeField(allow_null=True)


class OrderPaymentSerializer(serializers.Serializer):
    payment_intent_id = serializers.CharField()
    client_secret = serializers.CharField()


class OrderBaseOutputSerializer(serializers.ModelSerializer):
    items = OrderItemOutputSerializer(many=True, read_only=True)
    total = serializers.SerializerMethodField()
    esims = EsimOutputSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = (
            "id",
            "kind",
            "status",
            "items",
            "total",
            "esims",
            "target_iccid",
            "failure_reason",
            "created_at",
            "updated_at",
        )

    @extend_schema_field(MoneyOutputSerializer)
    def get_total(self, order: Order) -> dict[str, str]:
        return money_api(order.total, order.currency)


class CustomerOrderOutputSerializer(OrderBaseOutputSerializer):
    payment = serializers.SerializerMethodField()

    class Meta(OrderBaseOutputSerializer.Meta):
        fields = (*OrderBaseOutputSerializer.Meta.fields, "payment")  # type: ignore[assignment]

    @extend_schema_field(OrderPaymentSerializer(allow_null=True))
    def get_payment(self, order: Order) -> dict[str, str] | None:
        payment = order_payment(order)
        if payment is None:
            return None
        return {
            "payment_intent_id": payment.payment_intent_id,
            "client_secret": payment.client_secret,
        }


class VendorOrderOutputSerializer(OrderBaseOutputSerializer):
    class Meta(OrderBaseOutputSerializer.Meta):
        fields = (*OrderBaseOutputSerializer.Meta.fields, "customer_reference")  # type: ignore[assignment]
