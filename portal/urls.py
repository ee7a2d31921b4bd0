from django.urls import URLPattern, path

from portal import views

app_name = "portal"

urlpatterns: list[URLPattern] = [
    path("", views.overview, name="overview"),
    path("keys/", views.api_keys, name="api-keys"),
    path("keys/<str:key_id>/revoke", views.api_key_revoke, name="api-key-revoke"),
    path("brand/", views.brand, name="brand"),
    path("auto-topups/", views.auto_topups, name="auto-topups"),
    path("support/", views.support, name="support"),
    path("webhooks/", views.webhooks, name="webhooks"),
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
