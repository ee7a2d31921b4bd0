from django.urls import URLPattern, path

from vendors import api
from vendors.api import request_logs as request_log_api

urlpatterns: list[URLPattern] = [
    path("vendors/signup", api.VendorSignupApi.as_view(), name="vendor-signup"),
    path("vendor/brand", api.VendorBrandApi.as_view(), name="vendor-brand"),
    path(
        "vendor/request-logs",
        request_log_api.VendorRequestLogListApi.as_view(),
        name="vendor-request-logs",
    ),
    path(
        "vendor/request-logs/<int:log_id>",
        request_log_api.VendorRequestLogDetailApi.as_view(),
        name="vendor-request-log",
    ),
]
