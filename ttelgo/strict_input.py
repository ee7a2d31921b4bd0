"""Unknown fields in a request body are refused, as unknown query parameters are
(`ttelgo/filters.py`): a typo in a field name (`refrence`) must not place an order without
it. Every serializer that validates input (`Serializer(data=...)`, nested ones included)
answers a 400 `validation_error` with one entry in `details` per unknown name.

Installed once, at start-up (`TtelgoConfig.ready`), on DRF's `Serializer`, so a write
endpoint added later is covered without remembering a base class. A serializer that must
take fields it does not declare sets `refuse_unknown_fields = False`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

UNKNOWN_FIELD = "Unknown field."


def unknown_fields_check(serializer: serializers.Serializer, data: Any) -> None:
    """Raise a ValidationError naming each key of `data` the serializer does not declare."""
    if not getattr(serializer, "refuse_unknown_fields", True) or not isinstance(data, Mapping):
        return
    unknown = sorted(str(name) for name in set(data) - set(serializer.fields))
    if unknown:
        raise serializers.ValidationError({name: [UNKNOWN_FIELD] for name in unknown})


def unknown_fields_refuse() -> None:
    """Make every DRF Serializer refuse undeclared input fields (idempotent)."""
    original = serializers.Serializer.to_internal_value
    if getattr(original, "refuses_unknown_fields", False):
        return

    def to_internal_value(self: serializers.Serializer, data: Any) -> Any:
        unknown_fields_check(self, data)
        return original(self, data)

    to_internal_value.refuses_unknown_fields = True  # type: ignore[attr-defined]
    serializers.Serializer.to_internal_value = to_internal_value  # type: ignore[method-assign,assignment]
