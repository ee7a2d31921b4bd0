from django.urls import URLPattern, path

from sandbox import api

urlpatterns: list[URLPattern] = [
    path(
        "sandbox/payment_intents/<str:payment_intent_id>/succeed",
        api.SandboxPaymentIntentSucceedApi.as_view(),
        name="sandbox-payment-intent-succeed",
    ),
    path(
        "sandbox/payment_intents/<str:payment_intent_id>/fail",
        api.SandboxPaymentIntentFailApi.as_view(),
        name="sandbox-payment-intent-fail",
    ),
]
