from django.urls import URLPattern, path

from webhooks import api
from webhooks.airalo import AiraloWebhookApi
from webhooks.api.inbound import StripeWebhookApi
from webhooks.esimgo import EsimGoCallbackApi

urlpatterns: list[URLPattern] = [
    path("webhooks/esimgo", EsimGoCallbackApi.as_view(), name="webhooks-esimgo"),
    path("webhooks/airalo", AiraloWebhookApi.as_view(), name="webhooks-airalo"),
    path("webhooks/stripe", StripeWebhookApi.as_view(), name="webhooks-stripe"),
    path(
        "vendor/webhook-endpoints",
        api.VendorWebhookEndpointListApi.as_view(),
        name="vendor-webhook-endpoints",
    ),
    path(
        "vendor/webhook-endpoints/<int:endpoint_id>",
        api.VendorWebhookEndpointDetailApi.as_view(),
        name="vendor-webhook-endpoint",
    ),
    path(
        "vendor/webhook-endpoints/<int:endpoint_id>/rotate-secret",
        api.VendorWebhookEndpointRotateSecretApi.as_view(),
        name="vendor-webhook-endpoint-rotate-secret",
    ),
    path(
        "vendor/webhook-endpoints/<int:endpoint_id>/test",
        api.VendorWebhookEndpointTestApi.as_view(),
        name="vendor-webhook-endpoint-test",
    ),
    path(
        "vendor/webhook-deliveries",
        api.VendorWebhookDeliveryListApi.as_view(),
        name="vendor-webhook-deliveries",
    ),
    path(
        "vendor/webhook-deliveries/<int:delivery_id>",
        api.VendorWebhookDeliveryDetailApi.as_view(),
        name="vendor-webhook-delivery",
    ),
    path(
        "vendor/webhook-deliveries/<int:delivery_id>/retry",
        api.VendorWebhookDeliveryRetryApi.as_view(),
        name="vendor-webhook-delivery-retry",
    ),
]
