"""The vendor API's request log (`ApiRequestLog`), written off the request path.

The middleware only notes what it needs (a few attributes and references to the bodies
already in memory) in a per-process buffer. A background thread turns the notes into rows
(redacting and cutting the bodies) and writes them in batches, every
`API_REQUEST_LOG_FLUSH_SECONDS`. With 0 (tests, `make run` on SQLite) the note is written
when the response is done instead. A log line lost to a crash or a full buffer costs a
log line, never a request.

A line the database cannot take costs that line only: text is made storable first (NUL
and lone surrogates become U+FFFD), and a batch the database still refuses is written again
line by line. Every line not stored is counted in `request_log_lines_lost_total` by reason.
Secrets in the query string (`?api_key=...`, a value that looks like one of our keys) are
redacted before the line is kept; the vendor API refuses them anyway (vendors/auth.py)."""

from __future__ import annotations

import atexit
import json
import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from ttelgo.metrics import REQUEST_LOG_LINES_LOST
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


# Query parameters that carry credentials, by name (lower case, `-` read as `_`)...
SECRET_PARAMS = frozenset(
    {
        "key",
        "apikey",
        "api_key",
        "x_api_key",
        "auth",
        "sig",
        "jwt",
        "access_token",
        "refresh_token",
        "session",
        "sessionid",
    }
)
# ... or by a word in the name.
SECRET_PARAM_WORDS = (
    "secret",
    "password",
    "passwd",
    "token",
    "signature",
    "authorization",
    "api_key",
    "apikey",
    "credential",
)
# A value that looks like a credential whatever its name: one of our API keys (with its
# mode marker, or a key issued before test mode: 8 + "." + 32 letters and digits), a JWT.
SECRET_VALUE = re.compile(
    r"ttg_(?:live|test)_|^[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}$|eyJ[\w-]+\.[\w-]+\.", re.IGNORECASE
)
# What PostgreSQL cannot store in text: NUL, and lone surrogates (no UTF-8 for them; a JSON
# body may carry one as `"\\ud800"`).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
LOST_REASONS = ("refused", "unavailable", "buffer_full")
for _reason in LOST_REASONS:
    REQUEST_LOG_LINES_LOST.labels(_reason)  # exported at 0 from the start


def storable(text: str) -> str:
    """`text` with what PostgreSQL cannot store (NUL, lone surrogates) as U+FFFD."""
    return UNSTORABLE.sub("\ufffd", text)


def _secret_param(name: str, value: str) -> bool:
    name = name.strip().lower().replace("-", "_")
    return (
        name in SECRET_PARAMS
        or any(word in name for word in SECRET_PARAM_WORDS)
        or bool(SECRET_VALUE.search(value))
        or bool(SECRET_VALUE.search(name))
    )


def query_secrets(query: str) -> list[str]:
    """The names of the query string's parameters that carry credentials (see
    SECRET_PARAMS, SECRET_VALUE), in order, each once; a name that is itself a credential
    reads `[redacted]`."""
    found: list[str] = []
    for part in query.split("&"):
        raw_name, _, raw_value = part.partition("=")
        name, value = unquote_plus(raw_name), unquote_plus(raw_value)
        if part and _secret_param(name, value):
            shown = REDACTED if SECRET_VALUE.search(name) else name
            if shown not in found:
                found.append(shown)
    return found


def query_for_log(query: str) -> str:
    """The query string as the log keeps it: each parameter that carries a credential has
    its value replaced by `[redacted]` (a credential with no name, or as the name, whole)."""
    kept: list[str] = []
    for part in query.split("&"):
        raw_name, equals, raw_value = part.partition("=")
        name, value = unquote_plus(raw_name), unquote_plus(raw_value)
        if part and _secret_param(name, value):
            whole = not equals or SECRET_VALUE.search(name)
            part = REDACTED if whole else f"{raw_name}={REDACTED}"
        kept.append(part)
    return "&".join(kept)


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
    if isinstance(value, str) and SECRET_VALUE.search(value):
        return REDACTED  # one of our keys (or a JWT) pasted into any field
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
        method=storable(note.method[:8]),
        path=storable(note.path[:300]),
        query=storable(query_for_log(note.query)[:500]),
        status=note.status,
        latency_ms=note.latency_ms,
        request_id=storable(note.request_id[:128]),
        idempotency_key=storable(note.idempotency_key[:255]),
        key_prefix=storable(note.key_prefix),
        request_body=storable(body_for_log(note.request_body)),
        response_body=storable(body_for_log(note.response_body, is_json=note.json_response)),
    )


def lines_lost(reason: str, count: int = 1) -> None:
    REQUEST_LOG_LINES_LOST.labels(reason).inc(count)


def notes_write(notes: list[Note]) -> int:
    """Store the notes as log lines; returns how many were stored. A batch the database
    refuses is written again line by line, so a line it cannot take costs that line only;
    every line not stored is counted (`lines_lost`) and logged."""
    if not notes:
        return 0
    rows = [_row(n) for n in notes]
    try:
        with transaction.atomic():
            ApiRequestLog.objects.bulk_create(rows, batch_size=BATCH)
        return len(rows)
    except (OperationalError, InterfaceError):
        logger.exception("request log: database unavailable, %d lines lost", len(rows))
        lines_lost("unavailable", len(rows))
        return 0
    except (DatabaseError, ValueError):  # a line it will not take (ValueError: encoding)
        logger.warning("request log: a batch of %d lines refused, written one by one", len(rows))
    stored = 0
    for done, row in enumerate(rows):
        try:
            with transaction.atomic():
                ApiRequestLog.objects.bulk_create([row])
        except (OperationalError, InterfaceError):
            logger.exception("request log: database unavailable, %d lines lost", len(rows) - done)
            lines_lost("unavailable", len(rows) - done)
            break
        except (DatabaseError, ValueError):
            logger.exception(
                "request log: line refused (vendor %s, %s %s, request %s)",
                row.vendor_id, row.method, row.path, row.request_id,
            )  # fmt: skip
            lines_lost("refused")
        else:
            stored += 1
    return stored


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
        if len(self.notes) >= BUFFER_LIMIT:
            lines_lost("buffer_full")  # the deque drops its oldest note to take this one
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
            lines_lost("unavailable", len(notes))
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
            lines_lost("unavailable")
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
