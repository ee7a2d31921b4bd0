from django.urls import URLPattern, path

from . import api

urlpatterns: list[URLPattern] = [
    path("catalogue/countries", api.CatalogueCountryListApi.as_view(), name="catalogue-countries"),
    path("catalogue/bundles", api.CatalogueBundleListApi.as_view(), name="catalogue-bundles"),
    path(
        "catalogue/bundles/<str:code>",
        api.CatalogueBundleDetailApi.as_view(),
        name="catalogue-bundle-detail",
    ),
    path("vendor/catalogue", api.VendorCatalogueListApi.as_view(), name="vendor-catalogue"),
]
