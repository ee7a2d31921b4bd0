from django.urls import URLPattern, path

from portal import (
    billing_pages,
    order_pages,
    request_log_pages,
    simulator_pages,
    team_pages,
    views,
)

app_name = "portal"

urlpatterns: list[URLPattern] = [
    path("", views.overview, name="overview"),
    path("mode", views.mode_switch, name="mode"),
    path("keys/", views.api_keys, name="api-keys"),
    path("keys/<str:key_id>/revoke", views.api_key_revoke, name="api-key-revoke"),
    path("brand/", views.brand, name="brand"),
    path("orders/", order_pages.orders, name="orders"),
    path("orders/<int:order_id>", order_pages.order_detail, name="order"),
    path("esims/", order_pages.esims, name="esims"),
    path("esims/<str:iccid>/<slug:action>", order_pages.esim_action, name="esim-action"),
    path("catalogue/", order_pages.catalogue, name="catalogue"),
    path("billing/", billing_pages.billing, name="billing"),
    path("billing/topup", billing_pages.wallet_topup, name="wallet-topup"),
    path("billing/refill", billing_pages.play_money_refill, name="test-wallet-refill"),
    path("billing/invoices/<int:invoice_id>/pay", billing_pages.invoice_pay, name="invoice-pay"),
    path(
        "billing/invoices/<int:invoice_id>.<slug:fmt>",
        billing_pages.invoice_download,
        name="invoice-download",
    ),
    path("billing/payments/<int:payment_id>", billing_pages.payment, name="payment"),
    path(
        "billing/payments/<int:payment_id>/test-card/<slug:outcome>",
        billing_pages.payment_test_card,
        name="payment-test-card",
    ),
    path("request-log/", request_log_pages.request_log, name="request-log"),
    path(
        "request-log/<int:log_id>",
        request_log_pages.request_log_detail,
        name="request-log-entry",
    ),
    path("test/", simulator_pages.simulator, name="test-tools"),
    path("test/simulate/<slug:what>", simulator_pages.simulate, name="test-simulate"),
    path("team/", team_pages.team, name="team"),
    path("team/<int:member_id>/<slug:action>", team_pages.team_member, name="team-member"),
    path("invitations/<str:token>", team_pages.invitation, name="invitation"),
    path("auto-topups/", views.auto_topups, name="auto-topups"),
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
