"""The API's two pagination styles. A page, page size or cursor the client got wrong is a
400 `validation_error` naming that query parameter (never a 404 or a 500); a page past the
end is an empty page, the same on every list; `page_size` must lie within
[1, `max_page_size`] (declared as `minimum`/`maximum` in the schema)."""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any
from urllib import parse

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Page, Paginator
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import Cursor, CursorPagination, PageNumberPagination
from rest_framework.utils.urls import replace_query_param


def _page_size(paginator: Any, request: Any) -> int:
    """The requested `page_size`, or the default; out of bounds is refused."""
    name = paginator.page_size_query_param
    raw = request.query_params.get(name) if name else None
    if raw is None:
        return int(paginator.page_size)
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not (raw.isdigit() and 1 <= size <= paginator.max_page_size):
        raise ValidationError(
            {name: [f"Must be a whole number from 1 to {paginator.max_page_size}."]}
        )
    return size


def _page_size_parameter(paginator: Any) -> dict[str, Any]:
    return {
        "name": paginator.page_size_query_param,
        "required": False,
        "in": "query",
        "description": f"Number of results per page (1-{paginator.max_page_size}; "
        f"default {paginator.page_size}). Outside these bounds: 400.",
        "schema": {
            "type": "integer",
            "minimum": 1,
            "maximum": paginator.max_page_size,
            "default": paginator.page_size,
        },
    }


class StandardPagination(PageNumberPagination):
    """`{count, next, previous, results}`; `?page_size=` up to 100 (API.md). `?page=` is a
    whole number from 1; past the last page the answer is an empty page (200)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Any) -> int:
        return _page_size(self, request)

    def get_page_number(self, request: Any, paginator: Paginator) -> int:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not (raw.isdigit() and int(raw) >= 1):
            raise ValidationError({self.page_query_param: ["Must be a whole number from 1."]})
        return int(raw)

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any]:
        self.request = request
        paginator = self.django_paginator_class(queryset, self.get_page_size(request))
        number = self.get_page_number(request, paginator)
        if number > paginator.num_pages:
            # Past the end: an empty page (its `previous` points at the last real one).
            self.page = Page([], number, paginator)
            return []
        self.page = paginator.page(number)
        return list(self.page)

    def _past_the_end(self) -> bool:
        return self.page is not None and self.page.number > self.page.paginator.num_pages

    def get_previous_link(self) -> str | None:
        if self.page is not None and self.request is not None and self._past_the_end():
            paginator = self.page.paginator
            if paginator.count == 0:
                return None
            url = self.request.build_absolute_uri()
            return replace_query_param(url, self.page_query_param, paginator.num_pages)
        return super().get_previous_link()

    def get_next_link(self) -> str | None:
        return None if self._past_the_end() else super().get_next_link()

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "Page number, from 1. Past the last page: an empty page.",
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            _page_size_parameter(self),
        ]


class StatementCursorPagination(CursorPagination):
    """Cursor pages for long, append-only lists (ledger statements). A cursor is opaque:
    one not made by the server (not base64, a position that is not an id of the list's
    ordering field) is a 400 naming `cursor`."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = "-id"
    invalid_cursor = "Invalid cursor: pass back a `next` or `previous` link as it was given."

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        self._model = getattr(queryset, "model", None)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Any) -> int:
        return _page_size(self, request)

    def decode_cursor(self, request: Any) -> Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            text = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse.parse_qs(text, keep_blank_values=True, strict_parsing=True)
            if not set(tokens) <= {"o", "r", "p"} or any(len(v) != 1 for v in tokens.values()):
                raise ValueError(text)
            offset = tokens.get("o", ["0"])[0]
            if not offset.isdigit() or int(offset) > self.offset_cutoff:
                raise ValueError(offset)
            reverse = tokens.get("r", ["0"])[0]
            if reverse not in ("0", "1"):
                raise ValueError(reverse)
            position = tokens.get("p", [None])[0]
        except (TypeError, ValueError, UnicodeError, binascii.Error):
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor]}) from None
        if position is not None:
            self._check_position(position)
        return Cursor(offset=int(offset), reverse=reverse == "1", position=position)  # type: ignore[arg-type]

    def _check_position(self, position: str) -> None:
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        try:
            field = self._model._meta.get_field(ordering.lstrip("-"))  # type: ignore[union-attr]
            field.run_validators(field.to_python(position))
            ok = position != ""
        except (AttributeError, FieldDoesNotExist):
            ok = True  # not a model queryset: nothing to check against
        except (DjangoValidationError, TypeError, ValueError):
            ok = False
        if not ok:
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor]})

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The opaque cursor from a `next` or `previous` link; "
                "anything else is a 400.",
                "schema": {"type": "string"},
            },
            _page_size_parameter(self),
        ]
