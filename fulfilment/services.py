"""Changes to eSIM records after delivery: cached usage from the provider (polled or
pushed by its callbacks) and the vendor's usage alerts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from fulfilment.auto_topups.triggers import auto_topup_due
from fulfilment.lock_objects import esim_qs_select_for_update
from fulfilment.models import Esim
from fulfilment.routing import client_for, esim_provider
from fulfilment.selectors import esims_expiring_within
from fulfilment.state import ESIM_IN_SERVICE, ESIM_STATES, esim_transition
from providers import BundleUsage, ProviderError, get_provider
from ttelgo.outbox import event_record, task_enqueue

logger = logging.getLogger(__name__)

USAGE_FRESH_FOR = timedelta(minutes=5)
DEFAULT_ALERT_LEVELS = (50, 80, 90, 100)
EXPIRING_DAYS = (3, 1)
_LIVE_STATES = ("active", "queued", "processing")
_STATUS_BY_STATE = {
    "depleted": Esim.Status.DEPLETED,
    "expired": Esim.Status.EXPIRED,
    "lapsed": Esim.Status.EXPIRED,
    "revoked": Esim.Status.REVOKED,
}


@dataclass(frozen=True)
class UsageView:
    initial_mb: int
    used_mb: int
    remaining_mb: int
    unlimited: bool
    state: str
    updated_at: datetime | None
    bundles: list[dict[str, Any]]


def esim_usage_view(esim: Esim) -> UsageView:
    return UsageView(
        initial_mb=esim.initial_mb,
        used_mb=esim.used_mb,
        remaining_mb=esim.remaining_mb,
        unlimited=esim.unlimited,
        state=esim.usage_state or "unknown",
        updated_at=esim.usage_updated_at,
        bundles=list(esim.bundles or []),
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def bundle_rows(bundles: list[BundleUsage]) -> list[dict[str, Any]]:
    """The provider's bundles as the eSIM keeps them (oldest first)."""
    return [
        {
            "bundle_code": b.bundle_code,
            "state": b.state,
            "initial_mb": b.initial_mb,
            "remaining_mb": b.remaining_mb if not b.unlimited else 0,
            "used_mb": max(0, b.initial_mb - b.remaining_mb) if not b.unlimited else b.used_mb,
            "unlimited": b.unlimited,
            "assigned_at": _iso(b.assigned_at),
            "expires_at": _iso(b.expires_at),
        }
        for b in bundles
    ]


def _summarise(rows: list[dict[str, Any]]) -> tuple[int, int, bool, str]:
    """Sum the bundles still usable; fall back to the newest one when none is. Each bundle
    keeps its own figures (a top-up is not merged into another bundle's pool)."""
    live = [r for r in rows if r["state"] in _LIVE_STATES]
    chosen = live or rows[-1:]
    if not chosen:
        return 0, 0, False, "unknown"
    initial = sum(int(r["initial_mb"]) for r in chosen)
    remaining = sum(int(r["remaining_mb"]) for r in chosen)
    unlimited = any(r["unlimited"] for r in chosen)
    state = "active" if any(r["state"] == "active" for r in chosen) else chosen[-1]["state"]
    return initial, remaining, unlimited, str(state)


def esim_bundle_reported(
    *,
    esim: Esim,
    bundle_code: str,
    initial_mb: int,
    remaining_mb: int,
    unlimited: bool,
    state: str,
    expires_at: datetime | None = None,
) -> Esim:
    """One bundle's figures pushed by the provider (a usage callback): that bundle's row
    changes, the others stand, and the totals are summed again."""
    rows = [dict(r) for r in (esim.bundles or [])]
    matching = [r for r in rows if r.get("bundle_code") == bundle_code]
    live = [r for r in matching if r.get("state") in _LIVE_STATES]
    found = live or matching
    if found:
        row = found[-1]
    else:
        row = {"bundle_code": bundle_code, "assigned_at": None, "expires_at": None}
        rows.append(row)
    row.update(
        state=state,
        initial_mb=initial_mb,
        remaining_mb=0 if unlimited else remaining_mb,
        used_mb=max(0, initial_mb - remaining_mb),
        unlimited=unlimited,
    )
    if expires_at is not None:
        row["expires_at"] = _iso(expires_at)
    initial, remaining, unlimited_total, total_state = _summarise(rows)
    return esim_usage_apply(
        esim_id=esim.pk,
        initial_mb=initial,
        remaining_mb=remaining,
        unlimited=unlimited_total,
        state=total_state,
        bundles=rows,
    )


def esim_usage_apply(
    *,
    esim_id: int,
    initial_mb: int,
    remaining_mb: int,
    unlimited: bool,
    state: str,
    bundles: list[dict[str, Any]] | None = None,
) -> Esim:
    """Store usage on the eSIM and, for a vendor's eSIM, send each lifecycle event once:
    `esim.installed` (first use), `esim.bundle_started`, `esim.usage_threshold` at each of
    the vendor's levels, `esim.depleted` and `esim.expired`."""
    with transaction.atomic():
        esim = (
            esim_qs_select_for_update(of=("self",)).select_related("order__vendor").get(pk=esim_id)
        )
        previous_status = esim.status
        esim.initial_mb = max(0, initial_mb)
        esim.remaining_mb = max(0, min(remaining_mb, esim.initial_mb)) if not unlimited else 0
        esim.unlimited = unlimited
        esim.usage_state = state[:16]
        esim.usage_updated_at = timezone.now()
        if bundles is not None:
            esim.bundles = bundles
        reported = _status_reported(previous_status, state)
        if reported != previous_status:  # under the row lock: this move wins
            esim_transition(esim_id=esim.pk, to=reported, expected=previous_status)
            esim.refresh_from_db(fields=["status"])
        vendor = esim.order.vendor
        levels = vendor.usage_alert_levels if vendor is not None else DEFAULT_ALERT_LEVELS
        due = _lifecycle_due(esim, previous_status, levels)
        esim.events_sent = [*esim.events_sent, *(key for key, _t, _d in due)]
        esim.save(update_fields=_USAGE_FIELDS)
        auto_topup_due(esim)
        if vendor is None:  # a customer's eSIM: the moments that matter, by email
            for _key, type_, extra in due:
                _customer_email(esim, type_, extra)
        elif due:
            data = {
                **_event_refs(esim),
                "initial_mb": esim.initial_mb,
                "remaining_mb": esim.remaining_mb,
            }
            for _key, type_, extra in due:
                event_record(
                    vendor_id=vendor.pk,
                    livemode=esim.livemode,
                    type=type_,
                    data={**data, **extra},
                )
        return esim


# What a usage report writes besides the status (which moves through `ESIM_STATES`).
_USAGE_FIELDS = [
    "initial_mb",
    "remaining_mb",
    "unlimited",
    "usage_state",
    "usage_updated_at",
    "bundles",
    "events_sent",
    "updated_at",
]


def _status_reported(status: str, state: str) -> str:
    """The status the provider's usage `state` puts an eSIM in `status` in: depleted,
    expired or revoked as it says, active at its first use; unchanged where the table
    allows no such move (a revoked eSIM stays revoked)."""
    if state in _STATUS_BY_STATE:
        target = _STATUS_BY_STATE[state]
    elif state == "active" and status == Esim.Status.RELEASED:
        target = Esim.Status.ACTIVE
    else:
        return status
    return target if ESIM_STATES.can(status, target) else status


def _event_refs(esim: Esim) -> dict[str, Any]:
    """What names the eSIM in every lifecycle event (webhook body or customer email)."""
    return {
        "iccid": esim.iccid,
        "order_id": esim.order_id,
        "customer_reference": esim.order.customer_reference,
    }


def _lifecycle_due(
    esim: Esim, previous_status: str, levels: Any
) -> list[tuple[str, str, dict[str, Any]]]:
    """The events this change of the eSIM calls for that were not sent before:
    (key, type, extra data), in the order they happened."""
    sent = set(esim.events_sent or [])
    due: list[tuple[str, str, dict[str, Any]]] = []

    def once(key: str, type_: str, **extra: Any) -> None:
        if key not in sent:
            sent.add(key)
            due.append((key, type_, extra))

    if previous_status == Esim.Status.RELEASED and esim.status not in (
        Esim.Status.RELEASED,
        Esim.Status.REVOKED,
    ):
        once("installed", "esim.installed")
    for row in esim.bundles or []:
        if row.get("state") in ("active", "depleted", "expired"):
            started = f"bundle_started:{row.get('bundle_code')}:{row.get('assigned_at')}"
            once(started, "esim.bundle_started", bundle_code=row.get("bundle_code"))
    if not esim.unlimited and esim.initial_mb:
        percent = esim.used_mb * 100 // esim.initial_mb
        valid = sorted({int(v) for v in levels or DEFAULT_ALERT_LEVELS if 0 < int(v) <= 100})
        for level in valid:
            if percent >= level:
                once(f"usage:{level}", "esim.usage_threshold", percent=level)
    if esim.status == Esim.Status.DEPLETED:
        once("depleted", "esim.depleted")
    if esim.status == Esim.Status.EXPIRED:
        once("expired", "esim.expired")
    return due


# Customers are emailed about these (fulfilment/emails.py); vendors get every event.
CUSTOMER_EMAILS = ("esim.usage_threshold", "esim.depleted", "esim.expiring", "esim.expired")


def _customer_email(esim: Esim, type_: str, extra: dict[str, Any]) -> None:
    if type_ in CUSTOMER_EMAILS:
        task_enqueue("fulfilment.tasks.esim_lifecycle_email", esim.pk, type_, extra)


def esims_expiry_notify(*, now: datetime | None = None) -> int:
    """Beat job: `esim.expiring` once at 3 days and once at 1 day before a vendor's live
    eSIM expires (`data.days_left`). Returns how many were sent."""
    now = now or timezone.now()
    candidates = esims_expiring_within(now=now, days=max(EXPIRING_DAYS))
    sent = 0
    for pk in candidates:
        with transaction.atomic():
            esim = esim_qs_select_for_update(of=("self",)).select_related("order").get(pk=pk)
            if esim.expires_at is None:
                continue
            left = esim.expires_at - now
            due = [d for d in EXPIRING_DAYS if left <= timedelta(days=d)]
            keys = [f"expiring:{d}" for d in due if f"expiring:{d}" not in esim.events_sent]
            if not keys:
                continue
            Esim.objects.filter(pk=pk).update(events_sent=[*esim.events_sent, *keys])
            data = {
                **_event_refs(esim),
                "expires_at": esim.expires_at.isoformat(),
                "days_left": min(due),
            }
            if esim.order.vendor_id is None:
                _customer_email(esim, "esim.expiring", data)
            else:
                event_record(
                    vendor_id=esim.order.vendor_id,
                    livemode=esim.livemode,
                    type="esim.expiring",
                    data=data,
                )
            sent += 1
    return sent


def esim_usage_refresh(*, esim: Esim, force: bool = False) -> Esim:
    """Ask the provider for the eSIM's usage unless the cached figures are fresh. When the
    provider cannot answer, the cached figures stand (the caller shows their age)."""
    if (
        not force
        and esim.usage_updated_at is not None
        and timezone.now() - esim.usage_updated_at < USAGE_FRESH_FOR
    ):
        return esim
    try:
        bundles = client_for(esim_provider(esim.iccid), esim.livemode, get_provider).get_usage(
            esim.iccid
        )
    except ProviderError as exc:
        logger.info("usage of %s not refreshed: %s", esim.iccid, exc.message)
        return esim
    rows = bundle_rows(bundles)
    initial, remaining, unlimited, state = _summarise(rows)
    return esim_usage_apply(
        esim_id=esim.pk,
        initial_mb=initial,
        remaining_mb=remaining,
        unlimited=unlimited,
        state=state,
        bundles=rows,
    )


def esims_usage_refresh_due(*, older_than: timedelta = timedelta(hours=1), limit: int = 500) -> int:
    """Refresh the cached usage of live eSIMs not refreshed for `older_than` (the periodic
    `esims_usage_refresh` job): oldest first, at most `limit` per run to stay within the
    provider's rate limits. Returns how many were asked about."""
    cutoff = timezone.now() - older_than
    due = (
        Esim.objects.filter(status__in=ESIM_IN_SERVICE)
        .filter(models.Q(usage_updated_at__isnull=True) | models.Q(usage_updated_at__lt=cutoff))
        .order_by(models.F("usage_updated_at").asc(nulls_first=True), "id")[:limit]
    )
    count = 0
    for esim in due:
        esim_usage_refresh(esim=esim, force=True)
        count += 1
    return count
