"""`Idempotency-Key` for POST endpoints, with Stripe's semantics (API.md, DESIGN.md):

- the key is scoped to the caller (customer, vendor, or anonymous);
- same key + same request -> the stored status and body again, `Idempotent-Replayed: true`;
- same key + different request -> 422 `idempotency_key_reused`;
- while the first request still runs -> 409 `idempotency_key_in_use`;
- keys live 24 hours (purged by `ttelgo.tasks.idempotency_keys_purge`);
- a request refused before it started (400: the body did not validate; 404: a bundle,
  eSIM or object it names does not exist) and a 5xx leave the key free: nothing is stored,
  and the corrected request may use the same key.

The claim is a row insert guarded by a unique constraint (committed on its own, so a
concurrent duplicate sees it at once). It names the database session running the request;
a claim whose session is gone (the database restarted under it, the process was killed)
is taken over at once instead of answering 409 until it is stale. The view then runs in a transaction that also marks
the key completed, so the business write and the stored response commit together: a
crash in between leaves neither, and a later retry runs the request afresh.

An answer that carries a secret shown only once (a webhook endpoint's signing secret) is
stored sealed: the endpoint passes `seal`/`unseal`, which encrypt and decrypt that part of
the stored body, so a replay shows the same secret and the database never holds it in
plaintext.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from ttelgo import sql
from ttelgo.errors import DomainError
from ttelgo.metrics import IDEMPOTENT_REPLAYS
from ttelgo.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
KEY_TTL = timedelta(hours=24)
# A claim older than this belongs to a request that died (gunicorn times out at 30 s);
# its transaction rolled back, so the request may run again.
STALE_CLAIM = timedelta(minutes=2)


@dataclass(frozen=True)
class Claim:
    record: IdempotencyKey
    replay: Response | None = None


def caller_scope(request: Request) -> str:
    vendor = getattr(request, "vendor", None)
    if vendor is not None:
        return f"vendor:{vendor.pk}"
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return "anon"


def request_fingerprint(request: Request) -> str:
    # Parsed and re-serialised with sorted keys: the same JSON formatted differently is
    # the same request.
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    raw = f"{request.method}\n{request.path}\n{body}".encode()
    return hashlib.sha256(raw).hexdigest()


def _key_from(request: Request, *, required: bool) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        if required:
            raise DomainError(
                "validation_error",
                f"The {HEADER} header is required on this endpoint.",
                details={HEADER: ["This header is required."]},
            )
        return None
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise DomainError(
            "validation_error",
            f"{HEADER} must be 1-255 printable characters.",
            details={HEADER: ["Must be 1-255 printable characters."]},
        )
    return key


def _session() -> str:
    """This connection's database session ("pid:backend start", PostgreSQL only), read
    once per connection."""
    if connection.vendor != "postgresql":
        return ""
    connection.ensure_connection()
    raw = connection.connection
    cached = getattr(connection, "_ttelgo_session", None)
    if cached is not None and cached[0] is raw:
        return str(cached[1])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_backend_pid() || ':' || extract(epoch FROM backend_start)"
            " FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )
        row = cursor.fetchone()
    session = str(row[0]) if row else ""
    connection._ttelgo_session = (raw, session)  # type: ignore[attr-defined]
    return session


# How often a claim is tried again when the key it collided with was freed meanwhile.
CLAIM_RETRIES = 5


def _session_alive(session: str) -> bool:
    """Whether the session that claimed a key still exists (True where unknown)."""
    if not session or connection.vendor != "postgresql":
        return True
    pid, _, started = session.partition(":")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s"
            " AND extract(epoch FROM backend_start)::text = %s",
            [int(pid), started],
        )
        return cursor.fetchone() is not None


def idempotency_claim(
    *, scope: str, key: str, method: str, path: str, fingerprint: str, _attempt: int = 0
) -> Claim:
    now = timezone.now()
    record = IdempotencyKey(
        scope=scope,
        key=key,
        method=method,
        path=path,
        fingerprint=fingerprint,
        locked_at=now,
        holder=_session(),
    )
    # One statement (ttelgo/sql.py), committed at once outside a transaction: a duplicate
    # that arrives a moment later finds the claim.
    if sql.insert_or_skip(record):
        return Claim(record=record)

    existing = IdempotencyKey.objects.filter(scope=scope, key=key).first()
    if existing is None:
        # Its holder let it go between our insert and this read (a request refused before
        # it started frees its key): claim it again, a few times at most.
        if _attempt >= CLAIM_RETRIES:
            raise DomainError(
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is still being processed.",
                details={"idempotency_key": key},
                headers={"Retry-After": "1"},
            )
        return idempotency_claim(
            scope=scope,
            key=key,
            method=method,
            path=path,
            fingerprint=fingerprint,
            _attempt=_attempt + 1,
        )
    if existing.created_at < now - KEY_TTL:
        # Expired but not yet purged: forget it and start over.
        IdempotencyKey.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
        return idempotency_claim(
            scope=scope, key=key, method=method, path=path, fingerprint=fingerprint
        )
    if existing.fingerprint != fingerprint:
        raise DomainError(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request.",
            details={"idempotency_key": key},
        )
    if existing.status == IdempotencyKey.Status.COMPLETED:
        response = Response(
            existing.response_body, status=existing.response_status, headers={REPLAY_HEADER: "true"}
        )
        IDEMPOTENT_REPLAYS.inc()
        return Claim(record=existing, replay=response)
    if existing.locked_at < now - STALE_CLAIM or not _session_alive(existing.holder):
        taken = IdempotencyKey.objects.filter(
            pk=existing.pk, status=IdempotencyKey.Status.IN_PROGRESS, locked_at=existing.locked_at
        ).update(locked_at=now, holder=record.holder)
        if taken:
            existing.locked_at = now
            return Claim(record=existing)
    raise DomainError(
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still being processed.",
        details={"idempotency_key": key},
        headers={"Retry-After": "1"},
    )


def idempotency_complete(
    *, record: IdempotencyKey, response: Response, seal: BodyTransform | None = None
) -> None:
    body = json.loads(json.dumps(response.data, cls=DjangoJSONEncoder))
    if seal is not None and response.status_code < 300:
        body = seal(body)
    sql.update(
        IdempotencyKey,
        where={"pk": record.pk, "status": IdempotencyKey.Status.IN_PROGRESS},
        status=IdempotencyKey.Status.COMPLETED,
        response_status=response.status_code,
        response_body=body,
        completed_at=timezone.now(),
    )


def idempotency_release(*, record: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=record.pk, status=IdempotencyKey.Status.IN_PROGRESS).delete()


def idempotency_keys_purge(*, older_than: timedelta = KEY_TTL) -> int:
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted


def idempotent_run(
    *,
    scope: str,
    key: str,
    path: str,
    payload: dict[str, Any],
    run: Callable[[], dict[str, Any]],
    atomic: bool = True,
) -> tuple[dict[str, Any], bool]:
    """The same claim as `idempotent`, for a caller that is not an API view (a portal form
    carrying its key in a hidden field): `run()` and the key's completion commit in one
    transaction, and its JSON result is stored under the key. The same key with the same
    `payload` gives that result again (`True`: a replay) and runs nothing; with another
    payload it is `idempotency_key_reused`; while the first still runs,
    `idempotency_key_in_use`. A refusal (any exception) frees the key: nothing happened.
    `scope` is the API's (`vendor:<id>`), so the key space is the caller's.
    `atomic=False` for a `run` that calls another service over HTTP between its own
    transactions (as `idempotent(atomic=False)`): the claim still makes it run once."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    fingerprint = hashlib.sha256(f"POST\n{path}\n{body}".encode()).hexdigest()
    if not 1 <= len(key) <= 255 or not key.isprintable():
        raise DomainError(
            "validation_error",
            "The idempotency key must be 1-255 printable characters.",
            details={"idempotency_key": ["Must be 1-255 printable characters."]},
        )
    claim = idempotency_claim(
        scope=scope, key=key, method="POST", path=path, fingerprint=fingerprint
    )
    if claim.replay is not None:
        return dict(claim.replay.data), True
    try:
        if atomic:
            with transaction.atomic():
                result = run()
                idempotency_complete(record=claim.record, response=Response(result, status=201))
        else:
            result = run()
            idempotency_complete(record=claim.record, response=Response(result, status=201))
    except BaseException:
        idempotency_release(record=claim.record)
        raise
    return result, False


# Refusals before the request started (a body that did not validate, a reference in it or
# in the path that does not exist) and crashes leave the key free, as Stripe does: the
# corrected request may be sent again with the same key. Every other outcome is stored.
RELEASED_STATUSES = frozenset({400, 404})


def _kept(response: Response) -> bool:
    return response.status_code < 500 and response.status_code not in RELEASED_STATUSES


def _settle(record: IdempotencyKey, response: Response, seal: BodyTransform | None) -> None:
    """Store the outcome under its key, or free the key (see RELEASED_STATUSES)."""
    if _kept(response):
        idempotency_complete(record=record, response=response, seal=seal)
    else:
        idempotency_release(record=record)


ViewMethod = Callable[..., Response]
# Maps a stored JSON body to the same shape with its secret parts encrypted (and back).
BodyTransform = Callable[[Any], Any]


def idempotent(
    *,
    required: bool = False,
    seal: BodyTransform | None = None,
    unseal: BodyTransform | None = None,
    atomic: bool = True,
) -> Callable[[ViewMethod], ViewMethod]:
    """Decorate an APIView's `post`. `required=True` where API.md demands the header;
    `seal`/`unseal` for a successful answer that must not be stored as it was sent.
    `atomic=False` for a view whose service calls another service over HTTP between its
    own transactions (it must not run inside one); the claim still makes it run once."""
    if (seal is None) != (unseal is None):
        raise ValueError("seal and unseal go together")

    def decorate(method: ViewMethod) -> ViewMethod:
        @functools.wraps(method)
        def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
            key = _key_from(request, required=required)
            # A view's `precheck` runs before the transaction: checks that must ask
            # another service over HTTP (no external call inside a database transaction).
            precheck = getattr(view, "precheck", None)
            if key is None:
                if precheck is not None:
                    precheck(request, *args, **kwargs)
                return method(view, request, *args, **kwargs)
            claim = idempotency_claim(
                scope=caller_scope(request),
                key=key,
                method=request.method or "POST",
                path=request.path,
                fingerprint=request_fingerprint(request),
            )
            if claim.replay is not None:
                if unseal is not None and claim.replay.status_code < 300:
                    claim.replay.data = unseal(claim.replay.data)
                return claim.replay
            try:
                if precheck is not None:
                    precheck(request, *args, **kwargs)
                if not atomic:
                    response = method(view, request, *args, **kwargs)
                    _settle(claim.record, response, seal)
                    return response
                with transaction.atomic():
                    response = method(view, request, *args, **kwargs)
                    if _kept(response):
                        idempotency_complete(record=claim.record, response=response, seal=seal)
                if not _kept(response):
                    idempotency_release(record=claim.record)
                return response
            except Exception as exc:
                response = view.handle_exception(exc)
                _settle(claim.record, response, None)
                return response

        wrapper.idempotent = True  # type: ignore[attr-defined]
        wrapper.idempotency_required = required  # type: ignore[attr-defined]
        return wrapper

    return decorate
