"""Benchmark-only routes, mounted by config/urls.py only when `BENCH_BARE_VIEW` is on.

`bench/bare/catalogue` answers with the exact bytes the cached catalogue endpoint served
(saved by bench/run.py to `BENCH_BARE_BODY_FILE`): the floor a Django view can reach on
the same server, middleware included, for the catalogue ratio. `bench/bare/order` does the
same with the bytes of an order answer (`order-body.json` next to it), for the bound on the
order ratio."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path


@cache
def _body(name: str = "") -> bytes:
    path = Path(settings.BENCH_BARE_BODY_FILE)
    return (path.with_name(name) if name else path).read_bytes()


def bare_catalogue(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_body(), content_type="application/json")


def bare_order(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_body("order-body.json"), content_type="application/json", status=201)


urlpatterns: list[URLPattern] = [
    path("bare/catalogue", bare_catalogue, name="bench-bare-catalogue"),
    path("bare/order", bare_order, name="bench-bare-order"),
]
