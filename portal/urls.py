from django.urls import URLPattern, path, register_converter

from portal import views
from portal.pages import (
    auto_topups,
    billing,
    bulk_orders,
    iot,
    ordering,
    orders,
    request_logs,
    simulator,
    sub_vendors,
    team,
    test_outbox,
)
from portal.public_ids import OrderIdConverter

app_name = "portal"
register_converter(OrderIdConverter, "order")

urlpatterns: list[URLPattern] = [
    path("", views.overview, name="overview"),
    path("mode", views.mode_switch, name="mode"),
    path("keys/", views.api_keys, name="api-keys"),
    path("keys/<str:key_id>/revoke", views.api_key_revoke, name="api-key-revoke"),
    path("brand/", views.brand, name="brand"),
    path("timezone", views.timezone_set, name="timezone"),
    path("orders/", orders.orders, name="orders"),
    path("orders/new", ordering.order_new, name="order-new"),
    path("orders/bulk/", bulk_orders.bulk_orders, name="bulk-orders"),
    path("orders/bulk/<int:bulk_id>", bulk_orders.bulk_order, name="bulk-order"),
    path("orders/<order:order_id>", orders.order_detail, name="order"),
    path("esims/", orders.esims, name="esims"),
    path("esims/<str:iccid>/topup", ordering.esim_topup, name="esim-topup"),
    path("esims/<str:iccid>/<slug:action>", orders.esim_action, name="esim-action"),
    path("catalogue/", orders.catalogue, name="catalogue"),
    path("iot/", iot.iot_sims, name="iot-sims"),
    path("iot/sms/", iot.iot_sms, name="iot-sms"),
    path("iot/auto-topup/", iot.iot_auto_topup, name="iot-auto-topup"),
    path("iot/sims/<str:iccid>", iot.iot_sim, name="iot-sim"),
    path("iot/sims/<str:iccid>/topup", iot.iot_sim_topup, name="iot-sim-topup"),
    path("billing/", billing.billing, name="billing"),
    path("billing/tax", views.tax_details, name="tax-details"),
    path("billing/topup", billing.wallet_topup, name="wallet-topup"),
    path("billing/refill", billing.play_money_refill, name="test-wallet-refill"),
    path("billing/invoices/<int:invoice_id>/pay", billing.invoice_pay, name="invoice-pay"),
    path(
        "billing/invoices/<int:invoice_id>.<slug:fmt>",
        billing.invoice_download,
        name="invoice-download",
    ),
    path("billing/payments/<int:payment_id>", billing.payment, name="payment"),
    path(
        "billing/payments/<int:payment_id>/receipt.pdf",
        billing.payment_receipt,
        name="payment-receipt",
    ),
    path(
        "billing/payments/<int:payment_id>/test-card/<slug:outcome>",
        billing.payment_test_card,
        name="payment-test-card",
    ),
    path("request-log/", request_logs.request_log, name="request-log"),
    path(
        "request-log/<int:log_id>",
        request_logs.request_log_detail,
        name="request-log-entry",
    ),
    path("test/", simulator.simulator, name="test-tools"),
    path("test/simulate/<slug:what>", simulator.simulate, name="test-simulate"),
    path("test/outbox", test_outbox.test_outbox, name="test-outbox"),
    path("sub-vendors/", sub_vendors.sub_vendors, name="sub-vendors"),
    path("team/", team.team, name="team"),
    path("team/<int:member_id>/<slug:action>", team.team_member, name="team-member"),
    path("invitations/<str:token>", team.invitation, name="invitation"),
    path("auto-topups/", auto_topups.auto_topups, name="auto-topups"),
    path("auto-topups/<int:rule_id>/edit", auto_topups.auto_topup_edit, name="auto-topup-edit"),
    path(
        "auto-topups/<int:rule_id>/<slug:action>",
        auto_topups.auto_topup_action,
        name="auto-topup-action",
    ),
    path("support/", views.support, name="support"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<int:endpoint_id>/edit", views.webhook_edit, name="webhook-edit"),
    path(
        "webhooks/deliveries/<int:delivery_id>",
        views.webhook_delivery,
        name="webhook-delivery",
    ),
    path("webhooks/deliveries/retry", views.webhook_retry_many, name="webhook-retry-many"),
    path(
        "webhooks/<int:endpoint_id>/<slug:action>",
        views.webhook_action,
        name="webhook-action",
    ),
    path(
        "webhooks/deliveries/<int:delivery_id>/retry",
        views.webhook_retry,
        name="webhook-retry",
    ),
]
