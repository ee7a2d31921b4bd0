from django.urls import URLPattern, path

from fulfilment import api
from fulfilment.auto_topups import api as auto_topup_api
from fulfilment.stock import api as stock_api

urlpatterns: list[URLPattern] = [
    # The catalogue at the vendor's prices, with whether each bundle is in stock now.
    path("vendor/catalogue", stock_api.VendorCatalogueListApi.as_view(), name="vendor-catalogue"),
    path("auto-topups", auto_topup_api.AutoTopupListCreateApi.as_view(), name="auto-topups"),
    path(
        "auto-topups/<int:rule_id>",
        auto_topup_api.AutoTopupDetailApi.as_view(),
        name="auto-topup",
    ),
    path(
        "vendor/auto-topups",
        auto_topup_api.VendorAutoTopupListCreateApi.as_view(),
        name="vendor-auto-topups",
    ),
    path(
        "vendor/auto-topups/<int:rule_id>",
        auto_topup_api.VendorAutoTopupDetailApi.as_view(),
        name="vendor-auto-topup",
    ),
    path("orders", api.OrderListCreateApi.as_view(), name="orders"),
    path("orders/<int:order_id>", api.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<int:order_id>/cancel", api.OrderCancelApi.as_view(), name="order-cancel"),
    path("esims", api.EsimListApi.as_view(), name="esims"),
    path("esims/<str:iccid>", api.EsimDetailApi.as_view(), name="esim-detail"),
    path("esims/<str:iccid>/qr", api.EsimQrApi.as_view(), name="esim-qr"),
    path("esims/<str:iccid>/usage", api.EsimUsageApi.as_view(), name="esim-usage"),
    path("esims/<str:iccid>/topups", api.EsimTopupCreateApi.as_view(), name="esim-topups"),
    path("esims/<str:iccid>/refund", api.EsimRefundCreateApi.as_view(), name="esim-refund"),
    path("vendor/orders", api.VendorOrderListCreateApi.as_view(), name="vendor-orders"),
    path("vendor/orders/<int:order_id>", api.VendorOrderDetailApi.as_view(), name="vendor-order"),
    path("vendor/esims", api.VendorEsimListApi.as_view(), name="vendor-esims"),
    path("vendor/esims/<str:iccid>", api.VendorEsimDetailApi.as_view(), name="vendor-esim"),
    path("vendor/esims/<str:iccid>/qr", api.VendorEsimQrApi.as_view(), name="vendor-esim-qr"),
    path(
        "vendor/esims/<str:iccid>/refund",
        api.VendorEsimRefundCreateApi.as_view(),
        name="vendor-esim-refund",
    ),
    path(
        "vendor/esims/<str:iccid>/resend",
        api.VendorEsimResendApi.as_view(),
        name="vendor-esim-resend",
    ),
    path(
        "vendor/esims/<str:iccid>/usage",
        api.VendorEsimUsageApi.as_view(),
        name="vendor-esim-usage",
    ),
    path(
        "vendor/esims/<str:iccid>/topups",
        api.VendorEsimTopupCreateApi.as_view(),
        name="vendor-esim-topups",
    ),
]
