"""Query parameters of list endpoints: validated, and refused when unknown.

A filter a client believes it applied but the server ignored is worse than an error (a
reseller asked for `?status=failed` and got every order). Every list validates its query
string with a `QueryFilters` serializer: an unknown name, or a bad value, is a 400
`validation_error` naming the parameter.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

# Handled by pagination and content negotiation, accepted on every list.
COMMON = frozenset({"page", "page_size", "cursor", "format"})


class QueryFilters(serializers.Serializer):
    """Subclass with the list's filters as fields; validate a plain dict of the query."""

    refuse_unknown_fields = False  # refused here, with COMMON allowed

    def to_internal_value(self, data: Any) -> Any:
        unknown = sorted(set(data) - set(self.fields) - COMMON)
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown query parameter."] for name in unknown}
            )
        return super().to_internal_value(data)


def query_filters(request: Request, filters: type[QueryFilters] = QueryFilters) -> dict[str, Any]:
    """The validated filters of this request (raises validation_error)."""
    checked = filters(data=request.query_params.dict())
    checked.is_valid(raise_exception=True)
    return {k: v for k, v in checked.validated_data.items() if v not in (None, "")}
