"""Benchmark-only routes, mounted by ttelgo/urls.py only when `BENCH_BARE_VIEW` is on.

`bench/bare/catalogue` answers with the exact bytes the cached catalogue endpoint served
(saved by bench/run.py to `BENCH_BARE_BODY_FILE`): the floor a Django view can reach on
the same server, middleware included, for the catalogue ratio."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path


@cache
def _body() -> bytes:
    return Path(settings.BENCH_BARE_BODY_FILE).read_bytes()


def bare_catalogue(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_body(), content_type="application/json")


urlpatterns: list[URLPattern] = [
    path("bare/catalogue", bare_catalogue, name="bench-bare-catalogue")
]
