"""Changes to eSIM records after delivery: cached usage from the provider (polled or
pushed by its callbacks) and the vendor's usage alerts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models, transaction
from django.utils import timezone

from esims.providers import BundleUsage, ProviderError, get_provider
from orders.esim_records import Esim
from orders.models import Order
from ttelgo.outbox import event_record

logger = logging.getLogger(__name__)

USAGE_FRESH_FOR = timedelta(minutes=5)
ALERT_PERCENTS = (80, 100)
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


def esim_usage_view(esim: Esim) -> UsageView:
    return UsageView(
        initial_mb=esim.initial_mb,
        used_mb=esim.used_mb,
        remaining_mb=esim.remaining_mb,
        unlimited=esim.unlimited,
        state=esim.usage_state or "unknown",
        updated_at=esim.usage_updated_at,
    )


def _summarise(bundles: list[BundleUsage]) -> tuple[int, int, bool, str]:
    """Sum the bundles still usable; fall back to the newest one when none is."""
    live = [b for b in bundles if b.state in _LIVE_STATES]
    chosen = live or bundles[-1:]
    if not chosen:
        return 0, 0, False, "unknown"
    initial = sum(b.initial_mb for b in chosen)
    remaining = sum(b.remaining_mb for b in chosen)
    unlimited = any(b.unlimited for b in chosen)
    state = "active" if any(b.state == "active" for b in chosen) else chosen[-1].state
    return initial, remaining, unlimited, state


def esim_usage_apply(
    *, esim_id: int, initial_mb: int, remaining_mb: int, unlimited: bool, state: str
) -> Esim:
    """Store usage on the eSIM and, for a vendor's eSIM, send `esim.usage_threshold` once
    per threshold crossed (80 %, 100 %) and `esim.expired` once."""
    with transaction.atomic():
        esim = (
            Esim.objects.select_for_update(of=("self",), no_key=True)
            .select_related("order__vendor")
            .get(pk=esim_id)
        )
        previous_status = esim.status
        esim.initial_mb = max(0, initial_mb)
        esim.remaining_mb = max(0, min(remaining_mb, esim.initial_mb)) if not unlimited else 0
        esim.unlimited = unlimited
        esim.usage_state = state[:16]
        esim.usage_updated_at = timezone.now()
        if state in _STATUS_BY_STATE:
            esim.status = _STATUS_BY_STATE[state]
        elif state == "active" and esim.status == Esim.Status.RELEASED:
            esim.status = Esim.Status.ACTIVE
        crossed = 0
        if not unlimited and esim.initial_mb:
            percent = esim.used_mb * 100 // esim.initial_mb
            crossed = max((p for p in ALERT_PERCENTS if percent >= p), default=0)
        alert = crossed > esim.usage_alerted_percent
        if alert:
            esim.usage_alerted_percent = crossed
        esim.save()
        vendor = esim.order.vendor
        if vendor is not None and esim.order.channel == Order.Channel.B2B:
            data = {
                "iccid": esim.iccid,
                "order_id": esim.order_id,
                "customer_reference": esim.order.customer_reference,
                "initial_mb": esim.initial_mb,
                "remaining_mb": esim.remaining_mb,
            }
            if alert:
                event_record(
                    vendor_id=vendor.pk,
                    type="esim.usage_threshold",
                    data={**data, "percent": crossed},
                )
            if esim.status == Esim.Status.EXPIRED and previous_status != Esim.Status.EXPIRED:
                event_record(vendor_id=vendor.pk, type="esim.expired", data=data)
        return esim


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
        bundles = get_provider().get_usage(esim.iccid)
    except ProviderError as exc:
        logger.info("usage of %s not refreshed: %s", esim.iccid, exc.message)
        return esim
    initial, remaining, unlimited, state = _summarise(bundles)
    return esim_usage_apply(
        esim_id=esim.pk,
        initial_mb=initial,
        remaining_mb=remaining,
        unlimited=unlimited,
        state=state,
    )


def esims_usage_refresh_due(*, older_than: timedelta = timedelta(hours=1), limit: int = 500) -> int:
    """Refresh the cached usage of live eSIMs not refreshed for `older_than` (the periodic
    `esims_usage_refresh` job): oldest first, at most `limit` per run to stay within the
    provider's rate limits. Returns how many were asked about."""
    cutoff = timezone.now() - older_than
    live = (Esim.Status.RELEASED, Esim.Status.INSTALLED, Esim.Status.ACTIVE)
    due = (
        Esim.objects.filter(status__in=live)
        .filter(models.Q(usage_updated_at__isnull=True) | models.Q(usage_updated_at__lt=cutoff))
        .order_by(models.F("usage_updated_at").asc(nulls_first=True), "id")[:limit]
    )
    count = 0
    for esim in due:
        esim_usage_refresh(esim=esim, force=True)
        count += 1
    return count
