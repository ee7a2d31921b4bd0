from django.urls import URLPattern, path

from payments import api

urlpatterns: list[URLPattern] = [
    path(
        "vendor/wallet/topups",
        api.VendorWalletTopupCreateApi.as_view(),
        name="vendor-wallet-topups",
    ),
    path(
        "vendor/invoices/<int:invoice_id>/pay",
        api.VendorInvoicePayApi.as_view(),
        name="vendor-invoice-pay",
    ),
]
