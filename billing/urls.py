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
    path(
        "vendor/sub-vendors", api.VendorSubVendorListCreateApi.as_view(), name="vendor-sub-vendors"
    ),
    path(
        "vendor/sub-vendors/<int:sub_vendor_id>",
        api.VendorSubVendorDetailApi.as_view(),
        name="vendor-sub-vendor",
    ),
    path(
        "vendor/sub-vendors/<int:sub_vendor_id>/credit-limit",
        api.VendorSubVendorCreditLimitApi.as_view(),
        name="vendor-sub-vendor-credit-limit",
    ),
    path(
        "vendor/sub-vendors/<int:sub_vendor_id>/transfers",
        api.VendorSubVendorTransferListCreateApi.as_view(),
        name="vendor-sub-vendor-transfers",
    ),
    path(
        "vendor/sub-vendor-settings",
        api.VendorSubVendorSettingsApi.as_view(),
        name="vendor-sub-vendor-settings",
    ),
    path("vendor/transfers", api.VendorTransferListApi.as_view(), name="vendor-transfers"),
]
