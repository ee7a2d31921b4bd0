"""Catalogue endpoints (API.md "Catalogue" and `GET /vendor/catalogue`).

Responses are cached in the default cache (Redis in production) under keys that embed the
catalogue version, which sync, reprice and override changes bump; a hit skips the database
and serialization entirely.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, permissions, serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from ttelgo.errors import DomainError
from ttelgo.fields import MoneyField
from vendors.auth import VendorApiMixin

from .fx import bundle_price_in
from .models import Bundle
from .pricing import pricing_key, retail_price, vendor_price
from .selectors import (
    bundle_get_public,
    bundle_list_sellable,
    catalogue_cache_version,
    country_list_with_offers,
)
from .serializers import (
    BundleBaseOutputSerializer,
    CatalogueFilterSerializer,
    bundle_fields,
    currency_choice_check,
)

CACHE_SECONDS = 600
BAD_QUERY = OpenApiResponse(description="Error envelope, code `validation_error`.")


def _cache_key(request: HttpRequest, scope: str) -> str:
    raw = f"{catalogue_cache_version()}|{scope}|{request.get_host()}|{request.get_full_path()}"
    return "esims:api:" + hashlib.sha256(raw.encode()).hexdigest()


def _json(body: bytes, *, hit: bool) -> HttpResponse:
    response = HttpResponse(body, content_type="application/json")
    response["X-Cache"] = "hit" if hit else "miss"
    return response


# Process-local copies of cached answers, in front of Redis: a hot catalogue page then costs
# no network round trip at all. Keys embed the catalogue version, so a local copy is never
# older than the version memo (selectors.VERSION_MEMO_SECONDS). Off in the test settings,
# where the shared cache is cleared between tests but this process's copies would not be.
LOCAL_CACHE_ENTRIES = 256
_local: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
_local_lock = threading.Lock()


def _local_put(key: str, body: bytes) -> None:
    if not settings.CATALOGUE_LOCAL_CACHE:
        return
    with _local_lock:
        _local[key] = (body, time.monotonic() + CACHE_SECONDS)
        _local.move_to_end(key)
        while len(_local) > LOCAL_CACHE_ENTRIES:
            _local.popitem(last=False)


def _body_get(key: str) -> bytes | None:
    if settings.CATALOGUE_LOCAL_CACHE:
        with _local_lock:
            found = _local.get(key)
            if found is not None and found[1] > time.monotonic():
                return found[0]
    body = cache.get(key)
    if body is not None:
        _local_put(key, body)
    return body


def cached_json(request: Request, scope: str, build: Callable[[], Any]) -> HttpResponse:
    key = _cache_key(request, scope)
    body = _body_get(key)
    if body is not None:
        return _json(body, hit=True)
    body = JSONRenderer().render(build())
    cache.set(key, body, CACHE_SECONDS)
    _local_put(key, body)
    return _json(body, hit=False)


class PublicCachedMixin:
    """Public catalogue reads: a cache hit is answered before DRF builds its request, since
    nothing DRF does (auth, permissions, throttles, validation) applies to a public GET
    whose exact path was answered before (errors are never cached). `make bench` measured
    the hit path at 0.4x a bare Django view before this (docs/PERFORMANCE.md)."""

    cache_scope = ""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method == "GET":
            body = _body_get(_cache_key(request, self.cache_scope))
            if body is not None:
                response = _json(body, hit=True)
                response["Allow"] = ", ".join(self.allowed_methods)  # type: ignore[attr-defined]
                return response
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


CURRENCY_PARAM = OpenApiParameter(
    "currency",
    str,
    required=False,
    description=(
        "ISO 4217: the price in one of the currencies customers may choose "
        "(CUSTOMER_CURRENCIES); omitted, the catalogue's own"
    ),
)


def _currency(request: Any) -> str:
    """The `?currency=` a customer chose ("" for the catalogue's own); a currency they may
    not choose is a validation_error under `currency`."""
    try:
        return currency_choice_check(str(request.query_params.get("currency", "")))
    except serializers.ValidationError as exc:
        raise DomainError(
            "validation_error", "Unknown currency.", details={"currency": list(exc.detail)}
        ) from exc


def _filters(request: Request) -> dict[str, Any]:
    params = CatalogueFilterSerializer(data=request.query_params.dict())
    params.is_valid(raise_exception=True)
    return params.to_filters()


class CatalogueCountryListApi(PublicCachedMixin, APIView):
    cache_scope = "countries"
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []

    class OutputSerializer(serializers.Serializer):
        iso = serializers.CharField()
        name = serializers.CharField()
        bundle_count = serializers.IntegerField()
        from_price = MoneyField()

    @extend_schema(responses=OutputSerializer(many=True), tags=["catalogue"])
    def get(self, request: Request) -> HttpResponse:
        return cached_json(
            request,
            self.cache_scope,
            lambda: self.OutputSerializer(country_list_with_offers(), many=True).data,
        )


class CatalogueBundleListApi(PublicCachedMixin, generics.ListAPIView):
    cache_scope = "bundles"
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []

    class OutputSerializer(BundleBaseOutputSerializer):
        pass

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[Bundle]:
        return bundle_list_sellable(**_filters(self.request))

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        page = args[0] if args else []
        currency = _currency(self.request)
        rows = [
            {**bundle_fields(b), "price": bundle_price_in(bundle=b, currency=currency).price}
            for b in page
        ]
        return self.OutputSerializer(rows, many=True)

    @extend_schema(
        parameters=[CatalogueFilterSerializer],
        responses={200: OutputSerializer(many=True), 400: BAD_QUERY},
        tags=["catalogue"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        _filters(request)  # validate before the cache lookup; errors are never cached
        return cached_json(request, self.cache_scope, lambda: self.list(request).data)


class CatalogueBundleDetailApi(PublicCachedMixin, APIView):
    cache_scope = "bundle"
    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []

    class OutputSerializer(BundleBaseOutputSerializer):
        pass

    @extend_schema(
        parameters=[CURRENCY_PARAM],
        responses={
            200: OutputSerializer,
            404: OpenApiResponse(description="Unknown or unavailable code: `not_found`."),
        },
        tags=["catalogue"],
    )
    def get(self, request: Request, code: str) -> HttpResponse:
        currency = _currency(request)

        def build() -> Any:
            bundle = bundle_get_public(code=code)
            return self.OutputSerializer(
                {
                    **bundle_fields(bundle),
                    "price": bundle_price_in(bundle=bundle, currency=currency).price,
                }
            ).data

        return cached_json(request, self.cache_scope, build)


class VendorCatalogueListApi(VendorApiMixin, generics.ListAPIView):
    """The catalogue at this vendor's prices (retail minus the vendor's discount)."""

    class OutputSerializer(BundleBaseOutputSerializer):
        retail_price = MoneyField(help_text="the public price, for reference")

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[Bundle]:
        return bundle_list_sellable(**_filters(self.request))

    def get_serializer(self, *args: Any, **kwargs: Any) -> Any:
        vendor = getattr(self.request, "vendor", None)  # absent while building the schema
        page = args[0] if args else []
        return self.OutputSerializer([self.row(b, vendor=vendor) for b in page], many=True)

    def row(self, bundle: Bundle, *, vendor: Any) -> dict[str, Any]:
        """One bundle of the answer (a subclass adds its own fields)."""
        return {
            **bundle_fields(bundle),
            "price": vendor_price(vendor=vendor, bundle=bundle),
            "retail_price": retail_price(bundle),
        }

    def cache_scope_for(self, vendor: Any) -> str:
        """What the cached answer depends on besides the path and the catalogue version:
        prices depend only on the discount (and a sub-vendor's chain of markups), so vendors
        on the same tier share entries."""
        return f"vendor-catalogue:{pricing_key(vendor)}"

    @extend_schema(
        parameters=[CatalogueFilterSerializer],
        responses={200: OutputSerializer(many=True), 400: BAD_QUERY},
        tags=["vendor"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        _filters(request)
        vendor = request.vendor  # type: ignore[attr-defined]
        scope = self.cache_scope_for(vendor)
        return cached_json(request, scope, lambda: self.list(request).data)
