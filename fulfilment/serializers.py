"""Output shapes shared by the customer and vendor order/eSIM endpoints (API.md).

Plain serializers with their fields spelled out (the types a ModelSerializer would derive,
so the schema is the same): a ModelSerializer introspects its model again for every
instance, which cost about 1 ms per order answer (docs/PERFORMANCE.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalogue.qr import apple_install_url
from fulfilment.links import esim_page_url
from fulfilment.models import Esim
from orders.models import Order
from orders.selectors import order_payment
from ttelgo.fields import MoneyField
from ttelgo.tax import Treatment


class OrderItemOutputSerializer(serializers.Serializer):
    bundle_code = serializers.CharField(max_length=100)
    bundle_name = serializers.CharField(max_length=255)
    quantity = serializers.IntegerField(min_value=0, max_value=9223372036854775807)
    unit_price = MoneyField(amount_attr="unit_price")


class EsimActivationSerializer(serializers.Serializer):
    ios_url = serializers.CharField()


class EsimDataSerializer(serializers.Serializer):
    initial_mb = serializers.IntegerField()
    remaining_mb = serializers.IntegerField()
    unlimited = serializers.BooleanField()


class EsimOutputSerializer(serializers.Serializer):
    iccid = serializers.CharField(max_length=22)
    status = serializers.ChoiceField(choices=Esim.Status.choices, required=False)
    bundle_code = serializers.CharField(max_length=100, help_text="the latest bundle applied")
    lpa = serializers.CharField(read_only=True)
    smdp_address = serializers.CharField(max_length=255)
    matching_id = serializers.CharField(max_length=255)
    activation = serializers.SerializerMethodField()
    data = serializers.SerializerMethodField()  # type: ignore[assignment]  # API field name
    expires_at = serializers.DateTimeField(allow_null=True, required=False)
    order_id = serializers.IntegerField(read_only=True)
    livemode = serializers.BooleanField(read_only=True, help_text="false for a test-mode eSIM")
    page_url = serializers.SerializerMethodField(
        help_text="the eSIM's install page (a signed link to hand to the traveller)"
    )

    def get_page_url(self, esim: Esim) -> str:
        return esim_page_url(esim)

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


class EsimBundleUsageSerializer(serializers.Serializer):
    bundle_code = serializers.CharField()
    state = serializers.CharField(
        help_text="processing | queued | active | depleted | expired | revoked | lapsed"
    )
    initial_mb = serializers.IntegerField()
    used_mb = serializers.IntegerField()
    remaining_mb = serializers.IntegerField()
    unlimited = serializers.BooleanField()
    assigned_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="set once the bundle started, when the provider tells it"
    )


class EsimUsageOutputSerializer(serializers.Serializer):
    initial_mb = serializers.IntegerField(help_text="total of the bundles still usable")
    used_mb = serializers.IntegerField()
    remaining_mb = serializers.IntegerField()
    unlimited = serializers.BooleanField()
    state = serializers.CharField()
    updated_at = serializers.DateTimeField(allow_null=True)
    bundles = EsimBundleUsageSerializer(many=True, help_text="each bundle on the eSIM")


class OrderPaymentSerializer(serializers.Serializer):
    payment_intent_id = serializers.CharField()
    client_secret = serializers.CharField()


class OrderTaxSerializer(serializers.Serializer):
    """The VAT in the order's (tax-inclusive) total: ttelgo/tax.py."""

    amount = MoneyField(amount_attr="tax_amount", help_text="the part of `total` that is VAT")
    rate = serializers.SerializerMethodField(help_text='percent, a decimal string ("21.00")')
    country = serializers.CharField(source="tax_country", help_text="whose rate applies")
    treatment = serializers.ChoiceField(source="tax_treatment", choices=Treatment.CHOICES)
    buyer_vat_number = serializers.CharField(allow_blank=True)
    seller_vat_number = serializers.CharField(allow_blank=True)

    def get_rate(self, order: Order) -> str:
        return f"{Decimal(order.tax_rate_bp).scaleb(-2):.2f}"


class OrderBaseOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(label="ID", read_only=True)
    kind = serializers.ChoiceField(choices=Order.Kind.choices, required=False)
    status = serializers.ChoiceField(choices=Order.Status.choices)
    items = OrderItemOutputSerializer(many=True, read_only=True, source="items_listed")
    total = MoneyField(amount_attr="total")
    tax = OrderTaxSerializer(source="*", read_only=True)
    esims = EsimOutputSerializer(many=True, read_only=True, source="esims_listed")
    target_iccid = serializers.CharField(
        allow_blank=True, max_length=22, required=False, help_text="top-ups only"
    )
    failure_reason = serializers.CharField(allow_blank=True, required=False)
    livemode = serializers.BooleanField(read_only=True, help_text="false for a test-mode order")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class CustomerOrderOutputSerializer(OrderBaseOutputSerializer):
    payment = serializers.SerializerMethodField()

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
    customer_reference = serializers.CharField(allow_blank=True, max_length=255, required=False)
