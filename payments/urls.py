from django.urls import URLPattern, path

from payments import api

urlpatterns: list[URLPattern] = [
    path(
        "vendor/wallet/topups",
        api.VendorWalletTopupCreateApi.as_view(),
        name="vendor-wallet-topups",
    ),
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
