"""Outbound vendor webhooks: endpoints, events, deliveries, attempts.

No other app calls in here to publish: they record domain events with
`ttelgo.outbox.event_record` (an outbox message in their transaction), and
`event_publish` (the `webhooks.tasks.event_publish` task, once that commits) stores the
event and one delivery per subscribed endpoint in one transaction and, after commit,
makes the first attempt. Later attempts are picked up by the `webhooks.tasks.deliveries_send_due`
beat task from `next_attempt_at`, so retries survive worker restarts and a Redis
visibility timeout never re-sends a message early.

One slow or dead endpoint costs only its own deliveries:
- at most WEBHOOKS_ENDPOINT_CONCURRENCY attempts of one endpoint are in flight at once,
  across every worker (`ttelgo.semaphore`); a delivery that finds them all taken is
  postponed a few seconds instead of waiting in a worker, and the attempt that frees a
  slot hands it to the endpoint's next waiting delivery (unless the endpoint now pauses);
- each attempt ends within WEBHOOKS_TIMEOUT_SECONDS whatever the receiver does
  (`webhooks.http`);
- after ENDPOINT_BACKOFF_AFTER failures in a row the endpoint pauses: its deliveries wait
  out an exponential backoff (up to ENDPOINT_BACKOFF_MAX) without spending an attempt;
- an endpoint whose attempts have all failed for WEBHOOKS_ENDPOINT_DISABLE_AFTER_DAYS is
  disabled and its vendor told (email and audit row); a 410 Gone disables it at once.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from ttelgo.metrics import WEBHOOK_DELIVERIES, count_on_commit
from ttelgo.outbox import BROKER_ERRORS, EVENT_TYPES
from ttelgo.queues import WEBHOOKS, queue_for, queued_marker_void, queues_epoch, task_send
from ttelgo.semaphore import semaphore_give_back, semaphore_take
from vendors.lock_objects import vendor_qs_select_for_update
from vendors.models import Vendor
from vendors.services import vendor_notify
from webhooks.crypto import secret_decrypt, secret_encrypt, secret_generate
from webhooks.http import DeadlineExceeded, post_pinned
from webhooks.lock_objects import (
    webhook_delivery_qs_select_for_update,
    webhook_endpoint_qs_select_for_update,
)
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from webhooks.signing import sign_headers
from webhooks.state import DELIVERY_STATES, delivery_move
from webhooks.urlguard import url_check

logger = logging.getLogger(__name__)

TEST_EVENT_TYPE = "webhook.test"

# Delay before attempt 2, 3, ... (after the immediate first one): about 23.6 hours in all,
# each delay jittered by +-10% so a recovering endpoint is not hit by a thundering herd.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=8),
    timedelta(hours=8),
)
JITTER = 0.1
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
# An attempt in flight holds its delivery this long, so the beat task does not send it twice.
CLAIM_LEASE = timedelta(minutes=2)
RESPONSE_LOG_LIMIT = 1024
# An endpoint pauses after this many failed attempts in a row, for BASE * 2**(n - AFTER)
# (jittered), at most MAX: a dead endpoint is tried a few times an hour, not per delivery.
ENDPOINT_BACKOFF_AFTER = 3
ENDPOINT_BACKOFF_BASE = timedelta(seconds=5)
ENDPOINT_BACKOFF_MAX = timedelta(hours=1)
# A delivery of an endpoint with no free slot waits this long (times 1 to 2) and is handed
# the next freed slot before then.
BUSY_DELAY = timedelta(seconds=5)
MAX_ENDPOINTS_PER_VENDOR = 20


def _validation(field: str, message: str) -> DomainError:
    return DomainError("validation_error", message, details={field: [message]})


# Subscribes an endpoint to every event type, including ones added later.
EVERY_EVENT = "*"


def _events_clean(events: Iterable[str]) -> list[str]:
    cleaned = sorted(set(events))
    if not cleaned:
        raise _validation("events", "Subscribe to at least one event type.")
    if EVERY_EVENT in cleaned:
        return [EVERY_EVENT]
    unknown = [e for e in cleaned if e not in EVENT_TYPES]
    if unknown:
        raise _validation("events", f"Unknown event types: {', '.join(unknown)}.")
    return cleaned


def endpoint_create(
    *, vendor: Vendor, url: str, events: Iterable[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; returns it and its signing secret (shown to the vendor once)."""
    cleaned = _events_clean(events)
    url_check(url)
    secret = secret_generate()
    with transaction.atomic():
        # Lock the vendor row so two concurrent creates cannot both pass the limit.
        vendor_qs_select_for_update().get(pk=vendor.pk)
        if (
            WebhookEndpoint.objects.filter(vendor=vendor, deleted_at__isnull=True).count()
            >= MAX_ENDPOINTS_PER_VENDOR
        ):
            raise _validation("url", f"At most {MAX_ENDPOINTS_PER_VENDOR} endpoints per vendor.")
        endpoint = WebhookEndpoint.objects.create(
            vendor=vendor,
            url=url,
            events=cleaned,
            description=description,
            secret_encrypted=secret_encrypt(secret),
        )
    return endpoint, secret


def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: Iterable[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    """Change an endpoint's URL, events, description or enabled flag; its signing secret
    stays the same. Re-enabling checks the URL again."""
    if endpoint.deleted_at is not None:
        raise DomainError("not_found", "No such webhook endpoint.")
    fields: dict[str, Any] = {}
    if url is not None:
        url_check(url)
        fields["url"] = url
    if events is not None:
        fields["events"] = _events_clean(events)
    if description is not None:
        fields["description"] = description
    with transaction.atomic():
        if fields:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
            endpoint.refresh_from_db()
        if enabled is True and not endpoint.enabled:
            endpoint_enable(endpoint=endpoint)
        elif enabled is False and endpoint.enabled:
            endpoint_disable(endpoint=endpoint, reason="disabled by the vendor", notify=False)
    endpoint.refresh_from_db()
    return endpoint


def endpoint_secret(*, endpoint: WebhookEndpoint) -> str:
    return secret_decrypt(endpoint.secret_encrypted)


def endpoint_previous_secrets(*, endpoint: WebhookEndpoint) -> list[str]:
    """The old secret while a rotation's overlap lasts (it signs beside the new one)."""
    expires = endpoint.previous_secret_expires_at
    if not endpoint.previous_secret_encrypted or expires is None or expires <= timezone.now():
        return []
    return [secret_decrypt(endpoint.previous_secret_encrypted)]


def endpoint_secret_rotate(
    *, endpoint: WebhookEndpoint, overlap_seconds: int | None = None
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret, returned once. The old one keeps signing beside it for
    `overlap_seconds` (WEBHOOK_SECRET_OVERLAP_SECONDS, a day by default; 0 ends it at
    once). Rotating again during an overlap drops the oldest secret."""
    if endpoint.deleted_at is not None:
        raise DomainError("not_found", "No such webhook endpoint.")
    overlap = (
        settings.WEBHOOK_SECRET_OVERLAP_SECONDS if overlap_seconds is None else overlap_seconds
    )
    if overlap < 0:
        raise DomainError("validation_error", "The overlap cannot be negative.")
    secret = secret_generate()
    now = timezone.now()
    with transaction.atomic():
        locked = webhook_endpoint_qs_select_for_update().get(pk=endpoint.pk)
        locked.previous_secret_encrypted = locked.secret_encrypted if overlap else ""
        locked.previous_secret_expires_at = now + timedelta(seconds=overlap) if overlap else None
        locked.secret_encrypted = secret_encrypt(secret)
        locked.secret_rotated_at = now
        locked.save(
            update_fields=[
                "previous_secret_encrypted",
                "previous_secret_expires_at",
                "secret_encrypted",
                "secret_rotated_at",
            ]
        )
        audit_record(
            actor=f"vendor:{locked.vendor_id}",
            action="webhook.secret_rotate",
            target=locked,
            after={
                "overlap_until": (
                    locked.previous_secret_expires_at.isoformat()
                    if locked.previous_secret_expires_at
                    else None
                )
            },
        )
        vendor = locked.vendor
        vendor_notify(
            vendor=vendor.live_vendor or vendor,  # a test endpoint's news goes to the owner too
            template="webhook_secret_rotated",
            endpoint=locked,
            livemode=vendor.livemode,
        )
    return locked, secret


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Soft delete (deliveries and attempts stay for the record); pending ones stop."""
    now = timezone.now()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk, deleted_at__isnull=True).update(
            deleted_at=now, enabled=False, disabled_reason="deleted", disabled_at=now
        )
        delivery_move(
            WebhookDelivery.objects.filter(endpoint=endpoint),
            to=WebhookDelivery.Status.FAILED,
            expected=WebhookDelivery.Status.PENDING,
            next_attempt_at=None,
            last_error="deleted",
        )


def endpoint_disable(
    *, endpoint: WebhookEndpoint, reason: str, notify: bool = True, automatic: bool = False
) -> bool:
    """Disable an enabled endpoint (compare-and-set); email the vendor once. `automatic`:
    we disabled it (failing for days, 410 Gone), recorded as such and in the audit log.
    Returns whether this call disabled it."""
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(
            enabled=False,
            disabled_reason=reason[:200],
            disabled_at=timezone.now(),
            disabled_automatically=automatic,
            paused_until=None,
        )
        if changed and automatic:
            audit_record(
                actor=None,
                action="webhook.endpoint_auto_disable",
                target=endpoint,
                after={"enabled": False, "disabled_reason": reason[:200]},
                reason=reason[:200],
            )
        if changed and notify:
            vendor = endpoint.vendor
            vendor_notify(
                vendor=vendor.live_vendor or vendor,  # a test endpoint's news goes to the owner
                template="endpoint_disabled",
                endpoint=endpoint,
                reason=reason,
                livemode=vendor.livemode,
            )
    endpoint.refresh_from_db()
    return bool(changed)


def endpoint_enable(*, endpoint: WebhookEndpoint) -> None:
    """Enable it again with a clean record: its past failures no longer count."""
    if endpoint.deleted_at is not None:
        raise DomainError("invalid_state", "A deleted endpoint cannot be enabled.")
    url_check(endpoint.url)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        enabled=True,
        disabled_reason="",
        disabled_at=None,
        disabled_automatically=False,
        consecutive_failures=0,
        failing_since=None,
        paused_until=None,
    )
    endpoint.refresh_from_db()


def event_body(event: WebhookEvent) -> str:
    """The exact bytes signed and sent; identical on every attempt of the event."""
    payload = {
        "id": event.public_id,
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "livemode": event.livemode,
        "data": event.data,
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"))


def _queued_until() -> Any:
    return timezone.now() + timedelta(seconds=settings.WEBHOOKS_QUEUED_LEASE_SECONDS)


def _send_on_commit(delivery_ids: list[int], *, livemode: bool) -> None:
    """Send these deliveries (marked queued by the caller, in its transaction) once it
    commits: to the live webhooks queue, or the test queue for a test-mode event."""
    queue = queue_for(WEBHOOKS, livemode=livemode)
    for delivery_id in delivery_ids:
        transaction.on_commit(
            lambda pk=delivery_id: _send(pk, queue),  # type: ignore[misc]
            robust=True,
        )


def _send(delivery_id: int, queue: str) -> None:
    from webhooks.tasks import delivery_send

    # The delivery rows are their own outbox: a send the broker refuses now is made by
    # `deliveries_send_due` (every minute), so a broker outage costs a delay, not a 500.
    try:
        task_send(delivery_send, [delivery_id], queue=queue)
    except BROKER_ERRORS:  # not queued after all: the due sweep may queue it at once
        WebhookDelivery.objects.filter(pk=delivery_id).update(queued_until=None)
        raise


def _event_create(
    *,
    vendor_id: int,
    type: str,
    data: dict[str, Any],
    public_id: str = "",
    created_at: datetime | None = None,
) -> WebhookEvent:
    # Round-trip through JSON now so the stored data is what will be sent (no surprises
    # from Decimals or datetimes at delivery time).
    clean = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    test_of = Vendor.objects.filter(pk=vendor_id).values_list("live_vendor_id", flat=True)
    return WebhookEvent.objects.create(
        vendor_id=vendor_id,
        livemode=test_of.first() is None,
        public_id=public_id or "msg_" + secrets.token_hex(12),
        type=type,
        data=clean,
        created_at=created_at or timezone.now(),
    )


def event_publish(
    *,
    vendor_id: int,
    type: str,
    data: dict[str, Any],
    public_id: str = "",
    created_at: datetime | None = None,
) -> None:
    """Store a domain event for a vendor and one delivery to every enabled endpoint
    subscribed to its type, in one transaction. Run by `webhooks.tasks.event_publish`,
    which `ttelgo.outbox.event_record` queues in the recording transaction (so nothing
    is published unless that commits). Once per `public_id`: a message delivered twice
    publishes one event."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {type!r}")
    with transaction.atomic():
        if public_id and WebhookEvent.objects.filter(public_id=public_id).exists():
            return
        endpoints = [
            e
            for e in WebhookEndpoint.objects.filter(
                vendor_id=vendor_id, enabled=True, deleted_at__isnull=True
            ).order_by("id")
            if e.subscribes_to(type)
        ]
        event = _event_create(
            vendor_id=vendor_id, type=type, data=data, public_id=public_id, created_at=created_at
        )
        now = timezone.now()
        deliveries = WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    event=event,
                    endpoint=e,
                    vendor_id=vendor_id,
                    next_attempt_at=now,
                    queued_until=_queued_until(),
                )
                for e in endpoints
            ]
        )
        _send_on_commit([d.pk for d in deliveries], livemode=event.livemode)
        _event_publish_to_parent(
            vendor_id=vendor_id, type=type, data=data, public_id=event.public_id, at=created_at
        )


def _event_publish_to_parent(
    *, vendor_id: int, type: str, data: dict[str, Any], public_id: str, at: datetime | None
) -> None:
    """A sub-vendor's event goes to its parent too when the parent asked for them
    (`Vendor.sub_vendor_webhooks`): the same type and data with `sub_vendor_id` added,
    under its own id (`<id>.p`, once like any event). One level up only; a parent that
    wants its grandchildren's events asks its sub-vendor to forward them."""
    parent_id = (
        Vendor.objects.filter(pk=vendor_id, parent__sub_vendor_webhooks=True)
        .values_list("parent_id", flat=True)
        .first()
    )
    if parent_id is None or "sub_vendor_id" in data:
        return
    event_publish(
        vendor_id=parent_id,
        type=type,
        data={**data, "sub_vendor_id": vendor_id},
        public_id=f"{public_id}.p",
        created_at=at,
    )


def endpoint_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `webhook.test` event to this one endpoint, whatever it subscribes to."""
    if not endpoint.enabled or endpoint.deleted_at is not None:
        raise DomainError("invalid_state", "The endpoint is disabled.")
    with transaction.atomic():
        _endpoint_unpause(endpoint_id=endpoint.pk)
        event = _event_create(
            vendor_id=endpoint.vendor_id,
            type=TEST_EVENT_TYPE,
            data={"endpoint_id": endpoint.pk, "message": "Test event from TTelGo."},
        )
        delivery = WebhookDelivery.objects.create(
            event=event,
            endpoint=endpoint,
            vendor=endpoint.vendor,
            next_attempt_at=timezone.now(),
            queued_until=_queued_until(),
        )
        _send_on_commit([delivery.pk], livemode=event.livemode)
    return delivery


def _endpoint_unpause(*, endpoint_id: int) -> None:
    # A test event or a replay the vendor asks for is a probe: sent now, not after the
    # backoff (the vendor has usually just fixed the receiver).
    WebhookEndpoint.objects.filter(pk=endpoint_id, paused_until__isnull=False).update(
        paused_until=None
    )


def delivery_retry(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Replay a delivery now, with the same `webhook-id` and body, on a fresh schedule."""
    endpoint = delivery.endpoint
    if not endpoint.enabled or endpoint.deleted_at is not None:
        raise DomainError(
            "invalid_state",
            "The endpoint is disabled; enable it before replaying.",
            details={"endpoint_id": endpoint.pk},
        )
    with transaction.atomic():
        _endpoint_unpause(endpoint_id=endpoint.pk)
        # From any status (a pending one starts its schedule again).
        delivery_move(
            WebhookDelivery.objects.filter(pk=delivery.pk),
            to=WebhookDelivery.Status.PENDING,
            expected=DELIVERY_STATES.actions["replay"],
            schedule_attempts=0,
            next_attempt_at=timezone.now(),
            queued_until=_queued_until(),
        )
        _send_on_commit([delivery.pk], livemode=delivery.event.livemode)
    delivery.refresh_from_db()
    return delivery


def _next_delay(schedule_attempts: int) -> timedelta | None:
    """Delay after the given number of attempts in this schedule; None: give up."""
    if schedule_attempts >= MAX_ATTEMPTS:
        return None
    base = RETRY_SCHEDULE[schedule_attempts - 1]
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def _post(url: str, body: str, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """(status code, first KiB of the body, error) of one POST; never raises. The whole
    attempt, the URL check's DNS lookup included, has WEBHOOKS_TIMEOUT_SECONDS."""
    budget = settings.WEBHOOKS_TIMEOUT_SECONDS
    started = time.monotonic()
    try:
        addresses = url_check(url)  # again at delivery time: DNS may have changed
    except DomainError as exc:
        return None, "", f"refused: {exc.message}"
    left = budget - (time.monotonic() - started)
    if left <= 0:
        return None, "", f"DeadlineExceeded: the name took over {budget:g}s to resolve"
    try:
        status_code, raw = post_pinned(
            url,
            addresses=addresses,
            body=body.encode(),
            headers=headers,
            timeout=left,
            read_limit=RESPONSE_LOG_LIMIT,
        )
    except DeadlineExceeded:
        return None, "", f"DeadlineExceeded: no complete answer within {budget:g}s"
    except requests.RequestException as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:500]
    return status_code, raw.decode("utf-8", "replace"), ""


def _endpoint_backoff(failures: int) -> timedelta:
    """How long an endpoint pauses after `failures` failed attempts in a row."""
    if failures < ENDPOINT_BACKOFF_AFTER:
        return timedelta(0)
    doubled = ENDPOINT_BACKOFF_BASE * 2 ** min(failures - ENDPOINT_BACKOFF_AFTER, 20)
    return min(doubled, ENDPOINT_BACKOFF_MAX) * random.uniform(1, 1 + JITTER)


def _endpoint_failure_record(*, endpoint_id: int, since: Any, error: str) -> tuple[bool, str]:
    """Count a failed attempt against its endpoint (row locked: concurrent failures each
    count). Returns whether the endpoint now pauses, and why it must be disabled ("" if
    it must not): every attempt since `failing_since` failed, for days."""
    endpoint = webhook_endpoint_qs_select_for_update().get(pk=endpoint_id)
    failures = endpoint.consecutive_failures + 1
    failing_since = endpoint.failing_since or since
    backoff = _endpoint_backoff(failures)
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        consecutive_failures=failures,
        failing_since=failing_since,
        paused_until=timezone.now() + backoff if backoff else None,
    )
    days = settings.WEBHOOKS_ENDPOINT_DISABLE_AFTER_DAYS
    if timezone.now() - failing_since >= timedelta(days=days):
        return bool(backoff), f"every attempt for {days} days failed (last: {error})"
    return bool(backoff), ""


def _delivery_postpone(*, delivery_id: int, until: Any) -> None:
    """Move a claimed delivery's attempt later without spending one of its attempts."""
    WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING).update(
        next_attempt_at=until
    )
    count_on_commit(WEBHOOK_DELIVERIES.labels(outcome="postponed"))


def _slot_key(endpoint_id: int) -> str:
    return f"webhook-endpoint:{endpoint_id}"


def _slot_take(*, endpoint_id: int) -> str | None:
    return semaphore_take(
        _slot_key(endpoint_id),
        limit=settings.WEBHOOKS_ENDPOINT_CONCURRENCY,
        # Longer than any attempt; frees the slot of a worker that died holding it.
        lease_seconds=settings.WEBHOOKS_TIMEOUT_SECONDS + 30,
    )


_chain = threading.local()


def _send_soon(delivery_id: int, *, livemode: bool) -> None:
    """Queue a send (marked queued by the caller) on its mode's queue. Where tasks run
    inline (eager: tests, the embedded server) a send queued inside a send runs after it,
    not inside it: a long chain of hand-offs is a loop, not a recursion."""
    queue = queue_for(WEBHOOKS, livemode=livemode)
    waiting: list[int] | None = getattr(_chain, "waiting", None)
    if waiting is not None:
        waiting.append(delivery_id)
        return
    _chain.waiting = waiting = [delivery_id]
    try:
        while waiting:
            try:
                _send(waiting.pop(0), queue)
            except BROKER_ERRORS:  # its marker is cleared: the due sweep sends it
                logger.warning("webhook delivery hand-off not queued: broker unavailable")
    finally:
        _chain.waiting = None


def _endpoint_next_send(*, endpoint_id: int) -> None:
    """Hand the slot just freed to the endpoint's next waiting delivery (postponed for want
    of a slot): it is sent now rather than when its wait ends. Deliveries already due are
    left alone (they are queued, or the beat task queues them), and so is one attempted in
    the last moments: it waits for its retry, not for a slot."""
    now = timezone.now()
    row = (
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint_id,
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__gt=now,
            next_attempt_at__lte=now + 2 * BUSY_DELAY,
        )
        .filter(Q(last_attempt_at__isnull=True) | Q(last_attempt_at__lt=now - 2 * BUSY_DELAY))
        .order_by("next_attempt_at")
        .values_list("pk", "next_attempt_at", "event__livemode")
        .first()
    )
    if row is None:
        return
    pk, due, livemode = row
    moved = WebhookDelivery.objects.filter(
        pk=pk, status=WebhookDelivery.Status.PENDING, next_attempt_at=due
    ).update(next_attempt_at=now, queued_until=_queued_until())
    if moved:  # else another hand-off took it
        _send_soon(pk, livemode=livemode)


def delivery_attempt(*, delivery_id: int) -> WebhookAttempt | None:
    """Make one attempt of a due delivery and schedule the next one. Returns the logged
    attempt, or None when no attempt was made: the delivery was not due (already sent,
    or claimed elsewhere), its endpoint is disabled, paused after failures (the delivery
    waits out the pause), or has every slot taken (the delivery waits a few seconds, or
    less if a slot is handed to it)."""
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + CLAIM_LEASE, queued_until=None)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("event", "endpoint__vendor").get(
        pk=delivery_id
    )
    endpoint = delivery.endpoint
    if not endpoint.enabled or endpoint.deleted_at is not None:
        delivery_move(
            WebhookDelivery.objects.filter(pk=delivery_id),
            to=WebhookDelivery.Status.FAILED,
            expected=WebhookDelivery.Status.PENDING,
            next_attempt_at=None,
            last_error="disabled",
        )
        return None
    if endpoint.paused_until is not None and endpoint.paused_until > now:
        _delivery_postpone(
            delivery_id=delivery_id,
            until=endpoint.paused_until + BUSY_DELAY * random.random(),
        )
        return None
    slot = _slot_take(endpoint_id=endpoint.pk)
    if slot is None:
        until = now + BUSY_DELAY * random.uniform(1, 2)
        _delivery_postpone(delivery_id=delivery_id, until=until)
        # A holder that gave its slot back while we postponed may have looked for a
        # waiting delivery before ours was one: look for its slot once more.
        slot = _slot_take(endpoint_id=endpoint.pk)
        if slot is None:
            return None
        reclaimed = WebhookDelivery.objects.filter(
            pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at=until
        ).update(next_attempt_at=now + CLAIM_LEASE)
        if not reclaimed:  # handed off meanwhile: that send makes the attempt
            semaphore_give_back(_slot_key(endpoint.pk), slot)
            return None

    try:
        body = event_body(delivery.event)
        headers = sign_headers(
            secret=endpoint_secret(endpoint=endpoint),
            also=endpoint_previous_secrets(endpoint=endpoint),
            msg_id=delivery.event.public_id,
            timestamp=timezone.now(),
            body=body,
        )
        started = time.monotonic()
        status_code, response_body, error = _post(endpoint.url, body, headers)
        latency_ms = int((time.monotonic() - started) * 1000)
    finally:
        semaphore_give_back(_slot_key(endpoint.pk), slot)
    succeeded = status_code is not None and 200 <= status_code < 300

    paused = False
    with transaction.atomic():
        # The endpoint before the delivery: the order endpoint_delete locks them in.
        disable_reason = ""
        if succeeded:
            WebhookEndpoint.objects.filter(pk=endpoint.pk, consecutive_failures__gt=0).update(
                consecutive_failures=0, failing_since=None, paused_until=None
            )
        else:
            paused, disable_reason = _endpoint_failure_record(
                endpoint_id=endpoint.pk,
                since=now,
                error=error or f"HTTP {status_code}",
            )
        delivery = webhook_delivery_qs_select_for_update().get(pk=delivery_id)
        attempt = WebhookAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            status_code=status_code,
            latency_ms=latency_ms,
            response_body=response_body,
            error=error,
            succeeded=succeeded,
        )
        fields: dict[str, Any] = {
            "attempt_count": delivery.attempt_count + 1,
            "schedule_attempts": delivery.schedule_attempts + 1,
            "last_attempt_at": now,
            "last_status_code": status_code,
            "last_error": error or ("" if succeeded else f"HTTP {status_code}"),
        }
        to = delivery.status  # a failed attempt with retries left: it stays pending
        if succeeded:
            to, fields["next_attempt_at"] = WebhookDelivery.Status.SUCCEEDED, None
        elif status_code == 410:
            # 410 Gone: the receiver tells us the endpoint no longer exists.
            to, fields["next_attempt_at"] = WebhookDelivery.Status.FAILED, None
            disable_reason = "the receiver answered 410 Gone"
        else:
            delay = _next_delay(fields["schedule_attempts"])
            if delay is None:
                # This delivery gives up; the endpoint stays on unless it has failed for
                # days (other events may still reach it).
                to, fields["next_attempt_at"] = WebhookDelivery.Status.FAILED, None
            else:
                fields["next_attempt_at"] = now + delay
        if not DELIVERY_STATES.can(delivery.status, to):
            to = delivery.status  # e.g. a give-up after another attempt's success
        # Under the row lock, from the status read: the move is this attempt's.
        delivery_move(
            WebhookDelivery.objects.filter(pk=delivery_id),
            to=to,
            expected=delivery.status,
            **fields,
        )
        delivery.refresh_from_db()
        if disable_reason:
            endpoint_disable(endpoint=endpoint, reason=disable_reason, automatic=True)
        outcome = "succeeded" if succeeded else "retrying"
        if delivery.status == WebhookDelivery.Status.FAILED:
            outcome = "failed"
        count_on_commit(WEBHOOK_DELIVERIES.labels(outcome=outcome))
    if not paused and not disable_reason:
        _endpoint_next_send(endpoint_id=endpoint.pk)
    return attempt


def deliveries_due(*, limit: int = 500) -> list[tuple[int, bool]]:
    """Pending deliveries whose next attempt is due and that are not queued already (their
    marker void: ttelgo/queues.py), oldest first, as (id, livemode): each is marked queued
    for WEBHOOKS_QUEUED_LEASE_SECONDS in this transaction (`FOR UPDATE SKIP LOCKED`), so
    sweeps running at once never return one twice and a backlog is not queued again every
    minute. Call it inside the transaction whose commit sends them."""
    now = timezone.now()
    lease = timedelta(seconds=settings.WEBHOOKS_QUEUED_LEASE_SECONDS)
    with transaction.atomic():
        due = list(
            webhook_delivery_qs_select_for_update(skip_locked=True, of=("self",))
            .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .filter(queued_marker_void("queued_until", lease=lease, epoch=queues_epoch(), now=now))
            .order_by("next_attempt_at")
            .values_list("pk", "event__livemode")[:limit]
        )
        WebhookDelivery.objects.filter(pk__in=[pk for pk, _ in due]).update(
            queued_until=_queued_until()
        )
    return due


def deliveries_queue_due(*, limit: int = 500) -> int:
    """Queue every due delivery not queued already (`deliveries_due`), each to its queue
    (live webhooks or test) once the marking commits; the number queued."""
    with transaction.atomic():
        due = deliveries_due(limit=limit)
        for livemode in (True, False):
            _send_on_commit([pk for pk, live in due if live is livemode], livemode=livemode)
    return len(due)
