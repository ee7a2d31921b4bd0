"""OpenAPI schema conventions.

Views nest `InputSerializer` / `OutputSerializer` (STYLE.md); drf-spectacular would name all
of them "Input"/"Output". Components are named after the view instead: `RegisterApi.
InputSerializer` becomes `RegisterInput`.
"""

from typing import Any, Literal

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


def component_name(serializer_class: type) -> str | None:
    outer, _, inner = serializer_class.__qualname__.rpartition(".")
    if not outer:
        return None
    outer = outer.split(".")[-1].removesuffix("Api").removesuffix("View")
    return outer + inner.removesuffix("Serializer")


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(
        self, serializer: Any, direction: Literal["request", "response"]
    ) -> str:
        klass = serializer if isinstance(serializer, type) else type(serializer)
        return component_name(klass) or super().get_serializer_name(serializer, direction)
