"""A page, page size or cursor the client got wrong is a 400 `validation_error` naming that
query parameter, on every paginated list of the URL conf (a list added later is checked
too); a page past the end is an empty page, everywhere the same."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.pagination import CursorPagination, PageNumberPagination

from tests.factories import UserFactory
from tests.orders.factories import customer_client
from tests.vendors.factories import vendor_client

pytestmark = pytest.mark.django_db


def _lists() -> list[tuple[str, type]]:
    def walk(patterns: list[Any], prefix: str = "") -> Any:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None)
                paginator = getattr(view, "pagination_class", None)
                if paginator is not None and hasattr(view, "list"):
                    yield "/" + prefix + str(pattern.pattern), paginator

    return [(path, p) for path, p in walk(get_resolver().url_patterns) if "<" not in path]


CURSOR_LISTS = [path for path, p in _lists() if issubclass(p, CursorPagination)]
PAGE_LISTS = [path for path, p in _lists() if issubclass(p, PageNumberPagination)]


def _client(path: str) -> Any:
    return vendor_client() if path.startswith("/api/v1/vendor/") else customer_client(UserFactory())


def _refused(response: Any, name: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [name]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_the_lists_are_discovered():
    assert sorted(CURSOR_LISTS) == [
        "/api/v1/vendor/iot/events",
        "/api/v1/vendor/iot/sims",
        "/api/v1/vendor/iot/sms",
        "/api/v1/vendor/ledger",
    ]
    assert len(PAGE_LISTS) >= 13


@pytest.mark.parametrize("path", CURSOR_LISTS)
@pytest.mark.parametrize(
    "cursor",
    [
        _b64("p=abc"),
        _b64("p=1e5"),
        _b64("p=2026-12-07"),
        _b64("p="),
        _b64("p=" + "9" * 40),
        _b64("o=-1"),
        _b64("r=x"),
        "not base64 at all!",
        "%FF%FE",
        base64.b64encode(b"p=\xff").decode(),
    ],
)
def test_a_tampered_cursor_is_a_400_naming_it(path, cursor):
    _refused(_client(path).get(path, {"cursor": cursor}), "cursor")


@pytest.mark.parametrize("path", CURSOR_LISTS)
def test_a_cursor_the_server_made_still_works(path):
    client = _client(path)
    response = client.get(path, {"cursor": _b64("p=12345"), "page_size": 1})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", PAGE_LISTS)
@pytest.mark.parametrize("page", ["0", "null", "-1", "abc", "1.5", ""])
def test_a_bad_page_number_is_a_400_naming_it(path, page):
    _refused(_client(path).get(path, {"page": page}), "page")


@pytest.mark.parametrize("path", PAGE_LISTS + CURSOR_LISTS)
@pytest.mark.parametrize("size", ["0", "101", "1000", "abc", "-5"])
def test_a_page_size_outside_its_bounds_is_a_400_naming_it(path, size):
    _refused(_client(path).get(path, {"page_size": size}), "page_size")


@pytest.mark.parametrize("path", PAGE_LISTS)
def test_past_the_last_page_is_an_empty_page(path):
    response = _client(path).get(path, {"page": "999"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["results"] == [] and body["next"] is None


def test_the_schema_declares_the_bounds(client):
    schema = client.get("/api/schema/?format=json").json()
    params = schema["paths"]["/api/v1/vendor/orders"]["get"]["parameters"]
    size = next(p for p in params if p["name"] == "page_size")
    page = next(p for p in params if p["name"] == "page")
    assert (size["schema"]["minimum"], size["schema"]["maximum"]) == (1, 100)
    assert page["schema"]["minimum"] == 1
    ledger = schema["paths"]["/api/v1/vendor/ledger"]["get"]["parameters"]
    assert next(p for p in ledger if p["name"] == "page_size")["schema"]["maximum"] == 100
