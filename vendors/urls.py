from django.urls import URLPattern, path

from vendors import api

urlpatterns: list[URLPattern] = [
    path("vendors/signup", api.VendorSignupApi.as_view(), name="vendor-signup"),
    path("vendor/brand", api.VendorBrandApi.as_view(), name="vendor-brand"),
]
