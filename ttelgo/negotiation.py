"""Content negotiation of the API: `?format=` naming a representation the endpoint does
not have is a 400 `validation_error` naming `format` (DRF answers 404), like any other
bad query parameter."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    def filter_renderers(self, renderers: Any, format: str) -> Any:
        matching = [renderer for renderer in renderers if renderer.format == format]
        if not matching:
            formats = ", ".join(sorted({str(r.format) for r in renderers}))
            raise ValidationError({"format": [f"Must be one of: {formats}."]})
        return matching
