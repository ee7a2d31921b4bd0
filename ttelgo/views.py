"""The one place that turns every error leaving over HTTP into the envelope
(`ttelgo.errors.envelope`): DRF's exception handler, Django's error views (handler400/403/
404/500, the CSRF failure view) and the responses a middleware sends before DRF runs.

Interface code: models, services and the rest of the domain never import it (the
`no-ui-below` import contract); they raise `ttelgo.errors.DomainError`.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

from ttelgo.errors import DomainError, envelope
from ttelgo.transient import (
    RETRY_AFTER_SECONDS,
    current_transient_exception,
    is_conflict,
    is_transient,
    mark_conflict,
)

logger = logging.getLogger(__name__)


def _request_id(request: Any) -> str:
    return getattr(request, "request_id", "") or getattr(
        getattr(request, "_request", None), "request_id", ""
    )


_DRF_CODES: list[tuple[type[Exception], str]] = [
    (drf.NotAuthenticated, "not_authenticated"),
    (drf.AuthenticationFailed, "not_authenticated"),
    (drf.PermissionDenied, "permission_denied"),
    (drf.NotFound, "not_found"),
    (drf.MethodNotAllowed, "method_not_allowed"),
    (drf.NotAcceptable, "not_acceptable"),
    (drf.UnsupportedMediaType, "unsupported_media_type"),
    (drf.Throttled, "rate_limited"),
    (drf.ParseError, "validation_error"),
    (drf.ValidationError, "validation_error"),
]


def _code_for(exc: drf.APIException) -> str:
    for klass, code in _DRF_CODES:
        if isinstance(exc, klass):
            return code
    # simplejwt's InvalidToken and friends are 401 AuthenticationFailed subclasses;
    # anything else keeps DRF's own code.
    default = exc.default_code if isinstance(exc.default_code, str) else "error"
    return "not_authenticated" if exc.status_code == 401 else default


def _message_for(exc: drf.APIException, code: str) -> str:
    if code == "validation_error" and isinstance(exc, drf.ValidationError):
        return "The request is not valid; see details."
    detail = exc.detail
    if isinstance(detail, dict):
        detail = detail.get("detail", detail)
    if isinstance(detail, list) and detail:
        detail = detail[0]
    return str(detail)


def _retry_after(exc: drf.Throttled) -> int | None:
    wait = getattr(exc, "wait", None)
    return None if wait is None else max(1, math.ceil(wait))


def _details_for(exc: drf.APIException, code: str) -> dict[str, Any]:
    if isinstance(exc, drf.ValidationError):
        data = exc.detail
        return data if isinstance(data, dict) else {"non_field_errors": data}
    if isinstance(exc, drf.Throttled) and _retry_after(exc) is not None:
        return {"retry_after": _retry_after(exc)}
    if isinstance(exc.detail, dict):
        return {k: v for k, v in exc.detail.items() if k != "detail"}
    return {}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every error leaves the API in the envelope, as JSON (also
    from an endpoint that answers CSV or an image)."""
    request = context.get("request")
    _render_as_json(request)
    rid = _request_id(request)
    headers: dict[str, str] = {}

    if isinstance(exc, DomainError):
        set_rollback()
        body = envelope(code=exc.code, message=exc.message, details=exc.details, request_id=rid)
        return Response(body, status=exc.status, headers=exc.headers or None)

    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, drf.APIException):
        set_rollback()
        code = _code_for(exc)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if isinstance(exc, drf.Throttled) and _retry_after(exc) is not None:
            headers["Retry-After"] = str(_retry_after(exc))
        body = envelope(
            code=code,
            message=_message_for(exc, code),
            details=_details_for(exc, code),
            request_id=rid,
        )
        return Response(body, status=exc.status_code, headers=headers or None)

    if isinstance(exc, DataError):
        # A value the database cannot hold (a number out of range, a NUL byte) that got
        # past validation: the request's fault, so a 400, and logged so it can be fixed.
        set_rollback()
        logger.warning("database refused a value: %s", exc, extra={"request_id": rid})
        body = envelope(
            code="validation_error",
            message="A value in the request is out of range or not allowed.",
            request_id=rid,
        )
        return Response(body, status=400)

    if is_transient(exc):
        # A lost conflict (re-run by ConflictRetryMiddleware) or a dependency that is down.
        set_rollback()
        if is_conflict(exc):
            mark_conflict(request)
        else:
            logger.warning("dependency unavailable: %s", exc, extra={"request_id": rid})
        return Response(
            unavailable_body(rid), status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )

    set_rollback()
    logger.exception("unhandled API error", extra={"request_id": rid})
    body = envelope(code="internal_error", message="An unexpected error occurred.", request_id=rid)
    return Response(body, status=500)


def _render_as_json(request: Any) -> None:
    if request is not None and not isinstance(
        getattr(request, "accepted_renderer", None), JSONRenderer
    ):
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type


def unavailable_body(request_id: str) -> dict[str, Any]:
    return envelope(
        code="temporarily_unavailable",
        message="A service this request needs is busy or unavailable; retry shortly "
        "(with the same Idempotency-Key, if you sent one).",
        request_id=request_id,
    )


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 for a request that did not go through DRF (the admin, a middleware)."""
    response: HttpResponse
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse(unavailable_body(getattr(request, "request_id", "")), status=503)
    else:
        response = HttpResponse(
            "Temporarily unavailable: please retry in a moment.",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def bad_request_response(request: HttpRequest, message: str) -> HttpResponse:
    """A 400 for a request refused before DRF (a middleware)."""
    if _wants_json(request):
        body = envelope(code="validation_error", message=message, request_id=_request_id(request))
        return JsonResponse(body, status=400)
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def json_404(request: HttpRequest, exception: Exception | None = None) -> Any:
    """handler404: unknown URLs under /api/ get the envelope; the admin keeps its HTML."""
    if not _wants_json(request):
        from django.views.defaults import page_not_found

        return page_not_found(request, exception or Http404())
    return JsonResponse(
        envelope(code="not_found", message="Not found.", request_id=_request_id(request)),
        status=404,
    )


@csrf_exempt
def api_not_found(request: HttpRequest, exception: Exception | None = None) -> Any:
    """The catch-all for unmatched /api/v1/ paths: a 404 in the envelope for any method."""
    return json_404(request, exception)


def json_500(request: HttpRequest) -> Any:
    if current_transient_exception() is not None:
        return unavailable_response(request)  # e.g. the database down under a middleware
    if not _wants_json(request):
        from django.views.defaults import server_error

        return server_error(request)
    return JsonResponse(
        envelope(
            code="internal_error",
            message="An unexpected error occurred.",
            request_id=_request_id(request),
        ),
        status=500,
    )


def json_400(request: HttpRequest, exception: Exception | None = None) -> Any:
    if not _wants_json(request):
        from django.views.defaults import bad_request

        return bad_request(request, exception or Exception())
    return JsonResponse(
        envelope(code="validation_error", message="Bad request.", request_id=_request_id(request)),
        status=400,
    )


def json_403(request: HttpRequest, exception: Exception | None = None) -> Any:
    if not _wants_json(request):
        from django.views.defaults import permission_denied

        return permission_denied(request, exception or DjangoPermissionDenied())
    return JsonResponse(
        envelope(code="permission_denied", message="Forbidden.", request_id=_request_id(request)),
        status=403,
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> Any:
    if not _wants_json(request):
        from django.views.csrf import csrf_failure as default

        return default(request, reason)
    return JsonResponse(
        envelope(
            code="permission_denied",
            message="CSRF verification failed.",
            request_id=_request_id(request),
        ),
        status=403,
    )
