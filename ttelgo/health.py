"""/healthz (process up) and /readyz (database, cache, broker answer)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    cache.set("readyz:probe", "1", timeout=5)
    if cache.get("readyz:probe") != "1":
        raise RuntimeError("cache did not return the value it was given")


def _check_broker() -> None:
    broker = settings.CELERY_BROKER_URL
    if broker.startswith("memory://"):
        return  # embedded default: tasks run in-process, there is no broker to wait for
    from kombu import Connection

    with Connection(broker, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS: dict[str, Callable[[], None]] = {
    "database": _check_database,
    "cache": _check_cache,
    "broker": _check_broker,
}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    failing: list[str] = []
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:
            logger.warning("readiness check failed", extra={"check": name, "error": str(exc)})
            results[name] = f"failing: {type(exc).__name__}"
            failing.append(name)
    if failing:
        return JsonResponse(
            {
                "status": "unavailable",
                "checks": results,
                "error": {
                    "code": "service_unavailable",
                    "message": "Not ready: " + ", ".join(failing) + " failing.",
                    "details": {"failing": failing},
                    "request_id": getattr(request, "request_id", ""),
                },
            },
            status=503,
        )
    return JsonResponse({"status": "ok", "checks": results})
