"""Request id on every request and response (API.md: X-Request-ID), and re-runs of a
request that lost a transaction conflict."""

import logging
import random
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ttelgo.transient import (
    CONFLICT_FLAG,
    REQUEST_RETRIES,
    RETRY_BASE_SECONDS,
    is_conflict,
    is_transient,
    mark_conflict,
)
from ttelgo.views import bad_request_response, unavailable_response

logger = logging.getLogger(__name__)

_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIDMiddleware:
    """Echo a well-formed incoming X-Request-ID, otherwise mint one.

    The value is written back into META so django-structlog (next in the chain) binds the
    same id into every log line and, through its Celery step, into tasks.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
        request.META["HTTP_X_REQUEST_ID"] = request_id
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


class BadInputMiddleware:
    """A NUL byte in the path or the query string is a 400 before any view runs (no
    database accepts it in text, and no URL of ours has one)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            return bad_request_response(request, "NUL characters are not allowed in URLs.")
        return self.get_response(request)


class ConflictRetryMiddleware:
    """Re-run a request whose transaction lost a deadlock or serialization conflict.

    Services hold their writes in one `transaction.atomic()` and nothing here runs inside
    one (no ATOMIC_REQUESTS), so a conflict rolled everything back and the request can run
    again from the top: authentication, idempotency claim (released on the 503), the
    service. The body is read first so it can be parsed again. After REQUEST_RETRIES
    re-runs the client gets the 503 `temporarily_unavailable` the last run produced."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.body  # noqa: B018 - cached, so DRF can parse it again on a re-run
        except Exception:  # too large, a broken stream: answered by the view as usual
            return self.get_response(request)
        attempt = 0
        while True:
            setattr(request, CONFLICT_FLAG, False)
            response = self.get_response(request)
            if not getattr(request, CONFLICT_FLAG, False) or attempt >= REQUEST_RETRIES:
                return response
            attempt += 1
            logger.info("request %s lost a transaction conflict; run %d", request.path, attempt)
            time.sleep(random.uniform(0, RETRY_BASE_SECONDS * 2**attempt))  # jitter, not security

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Views outside DRF (the admin): a transient fault is a 503, a conflict re-runs."""
        if not is_transient(exception):
            return None
        if is_conflict(exception):
            mark_conflict(request)
        else:
            logger.warning("request %s: dependency unavailable: %s", request.path, exception)
        return unavailable_response(request)
