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
    # GET vendor/catalogue is fulfilment's (fulfilment/stock/api.py): it adds `in_stock`.
]
