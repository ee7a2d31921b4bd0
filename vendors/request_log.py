"""The vendor API's request log (`ApiRequestLog`), written off the request path.

The middleware only notes what it needs (a few attributes and references to the bodies
already in memory) in a per-process buffer. A background thread turns the notes into rows
(redacting and cutting the bodies) and writes them in batches, every
`API_REQUEST_LOG_FLUSH_SECONDS`. With 0 (tests, `make run` on SQLite) the note is written
when the response is done instead. A log line lost to a crash or a full buffer costs a
log line, never a request."""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from vendors.models import ApiRequestLog, key_marker

logger = logging.getLogger(__name__)

PREFIX = "/api/v1/vendor/"
BODY_LIMIT = 4096
BUFFER_LIMIT = 20_000
BATCH = 500
RETENTION = timedelta(days=30)
REDACTED = "[redacted]"
# Keys whose values never reach the log: secrets, and what identifies or reaches a person
# or installs their eSIM.
SENSITIVE = (
    "secret",
    "password",
    "token",
    "authorization",
    "api_key",
    "email",
    "phone",
    "address",
    "matching_id",
    "lpa",
    "activation",
    "ios_url",
    "page_url",
    "card",
    "iban",
    "payment_method",
)


@dataclass(slots=True)
class Note:
    vendor_id: int
    key_prefix: str
    at: datetime
    method: str
    path: str
    query: str
    status: int
    latency_ms: int
    request_id: str
    idempotency_key: str
    request_body: bytes
    response_body: bytes
    json_response: bool


# People's names (a bundle's or a brand's name stays readable).
PERSON_NAMES = frozenset({"name", "first_name", "last_name", "full_name", "contact_name"})


def _sensitive(key: str) -> bool:
    lowered = key.lower()
    return lowered in PERSON_NAMES or any(word in lowered for word in SENSITIVE)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if _sensitive(str(k)) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def body_for_log(raw: bytes, *, is_json: bool = True) -> str:
    """The body as the log keeps it: JSON redacted and cut at BODY_LIMIT; anything else
    only its size."""
    if not raw:
        return ""
    if not is_json:
        return f"[{len(raw)} bytes, not JSON]"
    try:
        parsed = json.loads(raw)
        text = json.dumps(redact(parsed), separators=(",", ":"), ensure_ascii=False)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return f"[{len(raw)} bytes, not JSON]"
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + "…"


def _row(note: Note) -> ApiRequestLog:
    return ApiRequestLog(
        vendor_id=note.vendor_id,
        created_at=note.at,
        method=note.method,
        path=note.path[:300],
        query=note.query[:500],
        status=note.status,
        latency_ms=note.latency_ms,
        request_id=note.request_id[:128],
        idempotency_key=note.idempotency_key[:255],
        key_prefix=note.key_prefix,
        request_body=body_for_log(note.request_body),
        response_body=body_for_log(note.response_body, is_json=note.json_response),
    )


def notes_write(notes: list[Note]) -> int:
    if not notes:
        return 0
    ApiRequestLog.objects.bulk_create([_row(n) for n in notes], batch_size=BATCH)
    return len(notes)


class _Writer:
    """The per-process buffer and its flushing thread (started in the process that uses
    it: after gunicorn forks, each worker starts its own)."""

    def __init__(self) -> None:
        self.notes: deque[Note] = deque(maxlen=BUFFER_LIMIT)
        self.lock = threading.Lock()
        self.pid = 0
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def add(self, note: Note) -> None:
        self.notes.append(note)
        if self.pid != os.getpid():
            self._start()
        elif len(self.notes) >= BATCH:
            self.wake.set()

    def _start(self) -> None:
        with self.lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()
            self.wake, self.stopping = threading.Event(), threading.Event()
            self.thread = threading.Thread(target=self._run, name="request-log", daemon=True)
            self.thread.start()

    def stop(self) -> None:
        """Write what is buffered and end the thread (tests; a process about to exit)."""
        thread = self.thread
        if thread is None or self.pid != os.getpid():
            return
        self.stopping.set()
        self.wake.set()
        thread.join(timeout=10)
        self.thread, self.pid = None, 0

    def drain(self) -> list[Note]:
        taken: list[Note] = []
        while self.notes:
            try:
                taken.append(self.notes.popleft())
            except IndexError:
                break
        return taken

    def flush(self) -> int:
        notes = self.drain()
        try:
            close_old_connections()
            return notes_write(notes)
        except Exception:
            logger.exception("request log: %d lines lost", len(notes))
            connection.close()
            return 0

    def _run(self) -> None:
        interval = float(settings.API_REQUEST_LOG_FLUSH_SECONDS)
        while not self.stopping.is_set():
            self.wake.wait(interval)
            self.wake.clear()
            self.flush()
        connection.close()


writer = _Writer()


@atexit.register
def _flush_at_exit() -> None:
    writer.stop()


class RequestLogMiddleware:
    """Notes every vendor API request made with an API key (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(PREFIX) or not settings.API_REQUEST_LOG:
            return self.get_response(request)
        started = time.perf_counter()
        body = b""
        if request.method in ("POST", "PUT", "PATCH"):
            try:
                body = request.body  # read now: the view reads it from memory after this
            except Exception:  # too big or unreadable: the view answers that itself
                body = b""
        response = self.get_response(request)
        api_key = getattr(request, "vendor_api_key", None)
        if api_key is None:
            return response  # no vendor to show it to (a bad or missing key)
        content_type = response.get("Content-Type", "")
        note = Note(
            vendor_id=api_key.vendor_id,
            key_prefix=key_marker(api_key.vendor.livemode) + api_key.prefix,
            at=timezone.now(),
            method=request.method or "",
            path=request.path,
            query=request.META.get("QUERY_STRING", ""),
            status=response.status_code,
            latency_ms=int((time.perf_counter() - started) * 1000),
            request_id=getattr(request, "request_id", ""),
            idempotency_key=request.META.get("HTTP_IDEMPOTENCY_KEY", ""),
            request_body=body,
            response_body=b"" if response.streaming else response.content,
            json_response="json" in content_type,
        )
        if float(settings.API_REQUEST_LOG_FLUSH_SECONDS) > 0:
            writer.add(note)
            return response
        try:
            notes_write([note])
        except Exception:  # the log never costs the request its answer
            logger.exception("request log: a line lost")
        return response


def request_logs_prune(*, now: datetime | None = None, batch: int = 5000) -> int:
    """Beat job: delete what is older than the 30 days kept, in batches."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted = 0
    while True:
        ids = list(
            ApiRequestLog.objects.filter(created_at__lt=cutoff).values_list("id", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += ApiRequestLog.objects.filter(id__in=ids).delete()[0]


def request_log_list(
    *,
    vendor: Any,
    method: str = "",
    status: int | None = None,
    path: str = "",
    request_id: str = "",
    idempotency_key: str = "",
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> Any:
    """The vendor's request log, newest first, searched."""
    qs = ApiRequestLog.objects.filter(vendor=vendor)
    if method:
        qs = qs.filter(method=method.upper())
    if status is not None:
        qs = qs.filter(status=status)
    if path:
        qs = qs.filter(path__icontains=path)
    if request_id:
        qs = qs.filter(request_id=request_id)
    if idempotency_key:
        qs = qs.filter(idempotency_key=idempotency_key)
    if created_from is not None:
        qs = qs.filter(created_at__gte=created_from)
    if created_to is not None:
        qs = qs.filter(created_at__lte=created_to)
    return qs.order_by("-created_at", "-id")
