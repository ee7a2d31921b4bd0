"""`GET /api/v1/vendor/catalogue` with `in_stock`: the catalogue's vendor view (prices,
filters, cache) plus, per bundle, whether an order of it would be delivered from stock
now, in the caller's mode (a test key sees test stock). No counts are exposed."""

from __future__ import annotations

import hashlib
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request

from catalogue import api as catalogue_api
from catalogue.models import Bundle
from catalogue.serializers import CatalogueFilterSerializer
from fulfilment.stock.services import bundles_in_stock


class VendorCatalogueListApi(catalogue_api.VendorCatalogueListApi):
    """The catalogue at this vendor's prices, each bundle saying whether it is in stock."""

    class OutputSerializer(catalogue_api.VendorCatalogueListApi.OutputSerializer):
        in_stock = serializers.BooleanField(
            help_text="an order of this bundle is delivered from ready stock now: the 201 "
            "answers it completed with its eSIMs (no counts; it may change at any moment)"
        )

    serializer_class = OutputSerializer
    stocked: frozenset[str] = frozenset()

    def cache_scope_for(self, vendor: Any) -> str:
        # The cached answer is keyed by what is in stock now (one query per request), so
        # a bundle running out or refilled is never answered from an older entry.
        self.stocked = bundles_in_stock(livemode=vendor.livemode)
        digest = hashlib.sha256(",".join(sorted(self.stocked)).encode()).hexdigest()[:16]
        mode = "live" if vendor.livemode else "test"
        return f"{super().cache_scope_for(vendor)}:{mode}:stock-{digest}"

    @extend_schema(
        parameters=[CatalogueFilterSerializer],
        responses={200: OutputSerializer(many=True), 400: catalogue_api.BAD_QUERY},
        tags=["vendor"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().get(request, *args, **kwargs)

    def row(self, bundle: Bundle, *, vendor: Any) -> dict[str, Any]:
        return {**super().row(bundle, vendor=vendor), "in_stock": bundle.code in self.stocked}
