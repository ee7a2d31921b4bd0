"""The vendor's money in the vendor API: balance, statement and invoices."""

from django.urls import URLPattern, path

from billing import api

urlpatterns: list[URLPattern] = [
    path("vendor/balance", api.VendorBalanceApi.as_view(), name="vendor-balance"),
    path("vendor/ledger", api.VendorLedgerApi.as_view(), name="vendor-ledger"),
    path("vendor/invoices", api.VendorInvoiceListApi.as_view(), name="vendor-invoices"),
    path(
        "vendor/invoices/<int:invoice_id>/lines",
        api.VendorInvoiceLinesApi.as_view(),
        name="vendor-invoice-lines",
    ),
    path(
        "vendor/invoices/<int:invoice_id>/lines.csv",
        api.VendorInvoiceLinesCsvApi.as_view(),
        name="vendor-invoice-lines-csv",
    ),
]
