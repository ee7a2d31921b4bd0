"""The fleet's services: sync from the provider, quota crossings (alerts and auto top-up),
paid top-ups through billing's holds, enable/disable (one SIM or a bulk job), labels, SMS.

What holds:
* No provider call runs inside a database transaction; every status moves through
  `iot.state` (compare-and-set); webhooks are recorded with the change (outbox).
* A quota crossing fires once: the level column moves by a conditional UPDATE whose row
  count names the one caller that alerts and starts the auto top-up; the level returns
  to `ok` only when the quota is above the threshold again (a top-up, an extension).
* A top-up is reserved (a ledger hold on the wallet or credit line, `insufficient_funds` /
  `credit_limit_exceeded` before anything is bought), bought, then captured; refused by
  the provider, the hold is released. Automatic top-ups count against the SIM's and the
  fleet's monthly caps under the fleet settings' row lock, so concurrent crossings
  cannot overrun them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.services import vendor_account
from catalogue.pricing import vendor_price_from_cost
from iot.models import (
    IotBulkJob,
    IotFleetSettings,
    IotSim,
    IotSimEvent,
    IotSms,
    IotTopup,
    IotUsageDay,
    IotUsageRollup,
)
from iot.models import QuotaLevel as L
from iot.state import BULK_JOB_STATES, SIM_STATES, SMS_STATES, TOPUP_STATES
from ledger.models import Hold, Purpose, Transaction
from ledger.posting import hold_capture, hold_create, hold_void, ledger_post
from ledger.services import platform_account
from providers import ProviderError, get_iot_provider
from providers.iot import (
    QUOTA_EXHAUSTED,
    QUOTA_EXPIRED,
    IotEvent,
    IotProvider,
    IotSimChange,
    IotSimInfo,
)
from ttelgo.errors import DomainError
from ttelgo.money import Money
from ttelgo.outbox import event_record, task_enqueue
from ttelgo.state import transition, transition_rows
from vendors.models import Vendor

logger = logging.getLogger(__name__)

BYTES_PER_MB = 1024 * 1024
BULK_CHUNK = 100  # 1NCE's bulk update takes a list; one call per hundred SIMs
SYNC_PAGE_SIZE = 100
MAX_SYNC_PAGES = 5000  # 500,000 SIMs: a runaway paging loop is a bug upstream
_LEVEL_RANK: dict[str, int] = {L.OK: 0, L.LOW: 1, L.EXHAUSTED: 2, L.EXPIRED: 3}


def provider_for(livemode: bool) -> IotProvider:
    return get_iot_provider(livemode=livemode)


def sim_public(sim: IotSim) -> dict[str, Any]:
    """The SIM in webhook bodies."""
    return {"iccid": sim.iccid, "label": sim.label, "status": sim.status, "msisdn": sim.msisdn}


# --- quota levels -------------------------------------------------------------------------
def quota_level(left: int | None, total: int | None, upstream: str = "ok") -> str:
    """Where a quota stands: exhausted at 0, low under the threshold share of its total."""
    if upstream == QUOTA_EXPIRED:
        return L.EXPIRED
    if left is None:
        return L.OK
    if left <= 0 or upstream == QUOTA_EXHAUSTED:
        return L.EXHAUSTED
    if total and left * 100 < total * settings.IOT_QUOTA_THRESHOLD_PERCENT:
        return L.LOW
    return L.OK


@dataclass(frozen=True)
class Crossing:
    service: str  # data | sms
    level: str


def sim_quota_observe(
    *,
    sim_id: int,
    data_left: int | None = None,
    data_total: int | None = None,
    sms_left: int | None = None,
    sms_total: int | None = None,
    data_upstream: str = "ok",
    sms_upstream: str = "ok",
) -> list[Crossing]:
    """Record quotas read from the provider and act on each crossing this caller won:
    a `sim.quota_threshold` / `sim.quota_exhausted` webhook and, where it applies, an
    automatic top-up (queued with this transaction). Safe under concurrent observers."""
    won: list[Crossing] = []
    with transaction.atomic():
        for service, left, total, upstream in (
            ("data", data_left, data_total, data_upstream),
            ("sms", sms_left, sms_total, sms_upstream),
        ):
            if left is None:
                continue
            if total is None:  # not in this reading (a SIM list page): the stored total
                total = (
                    IotSim.objects.filter(pk=sim_id)
                    .values_list(
                        "data_total_bytes" if service == "data" else "sms_total", flat=True
                    )
                    .first()
                )
            new = quota_level(left, total, upstream)
            values: dict[str, Any] = {
                f"{service}_left" if service == "sms" else "data_left_bytes": left
            }
            if total is not None:
                values["data_total_bytes" if service == "data" else "sms_total"] = total
            level_field = f"{service}_level"
            rows = IotSim.objects.filter(pk=sim_id)
            rows.update(**values)
            current = rows.values_list(level_field, flat=True).first()
            if current is None or current == new:
                continue
            # The conditional UPDATE decides which observer saw the crossing.
            moved = rows.filter(**{level_field: current}).update(**{level_field: new})
            if moved and _LEVEL_RANK[new] > _LEVEL_RANK[str(current)]:
                won.append(Crossing(service, new))
        if won:
            sim = IotSim.objects.select_related("vendor").get(pk=sim_id)
            for crossing in won:
                _crossing_act(sim, crossing)
    return won


def _crossing_act(sim: IotSim, crossing: Crossing) -> None:
    if sim.vendor_id is None:
        return
    left = sim.data_left_bytes if crossing.service == "data" else sim.sms_left
    total = sim.data_total_bytes if crossing.service == "data" else sim.sms_total
    kind = "sim.quota_exhausted" if crossing.level == L.EXHAUSTED else "sim.quota_threshold"
    event_record(
        vendor_id=sim.vendor_id,
        livemode=sim.livemode,
        type=kind,
        data={
            "sim": sim_public(sim),
            "quota": crossing.service,
            "left": left,
            "total": total,
            "percent_left": (100 * (left or 0) // total) if total else 0,
        },
    )
    low = crossing.level in (L.LOW, L.EXHAUSTED)
    if crossing.service == "data" and low and auto_topup_enabled(sim):
        task_enqueue("iot.tasks.iot_auto_topup", sim.pk)


def auto_topup_enabled(sim: IotSim) -> bool:
    if sim.auto_topup is not None:
        return sim.auto_topup
    if sim.vendor_id is None:
        return False
    fleet = IotFleetSettings.objects.filter(vendor_id=sim.vendor_id).first()
    return bool(fleet and fleet.auto_topup)


# --- sync -----------------------------------------------------------------------------
def _sim_fields(info: IotSimInfo) -> dict[str, Any]:
    return {
        "imsi": info.imsi,
        "msisdn": info.msisdn,
        "imei": info.imei,
        "imei_lock": info.imei_lock,
        "ip_address": info.ip_address,
        "label": info.label,
        "activated_at": info.activated_at,
    }


def fleet_sync(*, livemode: bool = True, max_pages: int = MAX_SYNC_PAGES) -> dict[str, int]:
    """Walk every page of the provider's SIMs: new ones are recorded (unassigned: an
    operator gives them to a vendor), known ones take the provider's fields, status
    (`sim.status_changed`) and quotas (crossings). Idempotent: a second run changes
    nothing. The provider client keeps to its rate limits."""
    provider = provider_for(livemode)
    counts = {"pages": 0, "created": 0, "updated": 0, "status_changed": 0}
    page = 1
    while page <= max_pages:
        result = provider.list_sims(page=page, page_size=SYNC_PAGE_SIZE)
        counts["pages"] += 1
        _sync_page(provider.name, livemode, result.sims, counts)
        if page >= result.total_pages or not result.sims:
            break
        page += 1
    return counts


def _sync_page(
    provider_name: str, livemode: bool, infos: list[IotSimInfo], counts: dict[str, int]
) -> None:
    now = timezone.now()
    by_iccid = {info.iccid: info for info in infos}
    known = {
        sim.iccid: sim
        for sim in IotSim.objects.filter(provider=provider_name, iccid__in=list(by_iccid))
    }
    new = [
        IotSim(
            provider=provider_name,
            livemode=livemode,
            iccid=iccid,
            status=info.status,
            synced_at=now,
            **_sim_fields(info),
        )
        for iccid, info in by_iccid.items()
        if iccid not in known
    ]
    if new:
        IotSim.objects.bulk_create(new, ignore_conflicts=True)
        counts["created"] += len(new)
    changed: list[IotSim] = []
    for iccid, sim in known.items():
        info = by_iccid[iccid]
        fields = _sim_fields(info)
        if any(getattr(sim, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(sim, k, v)
            changed.append(sim)
        if info.status != sim.status:
            sim_status_record(sim_id=sim.pk, to=info.status)
            counts["status_changed"] += 1
    if changed:
        IotSim.objects.bulk_update(changed, [*_sim_fields(infos[0]).keys(), "synced_at"])
        counts["updated"] += len(changed)
    IotSim.objects.filter(provider=provider_name, iccid__in=list(by_iccid)).update(synced_at=now)
    # Quotas: those whose level stays put are written in one statement; a level that
    # moves goes through `sim_quota_observe` (its crossing fires once).
    steady: list[IotSim] = []
    for sim in IotSim.objects.filter(provider=provider_name, iccid__in=list(by_iccid)):
        info = by_iccid[sim.iccid]
        if (info.data_left_bytes, info.sms_left) == (sim.data_left_bytes, sim.sms_left):
            continue
        data_left = sim.data_left_bytes if info.data_left_bytes is None else info.data_left_bytes
        sms_left = sim.sms_left if info.sms_left is None else info.sms_left
        levels = (
            quota_level(data_left, sim.data_total_bytes, info.data_quota_state)
            if data_left is not None
            else sim.data_level,
            quota_level(sms_left, sim.sms_total, info.sms_quota_state)
            if sms_left is not None
            else sim.sms_level,
        )
        if levels == (sim.data_level, sim.sms_level):
            sim.data_left_bytes, sim.sms_left = data_left, sms_left
            steady.append(sim)
            continue
        sim_quota_observe(
            sim_id=sim.pk,
            data_left=info.data_left_bytes,
            sms_left=info.sms_left,
            data_upstream=info.data_quota_state,
            sms_upstream=info.sms_quota_state,
        )
    if steady:
        IotSim.objects.bulk_update(steady, ["data_left_bytes", "sms_left"])


def sim_status_record(*, sim_id: int, to: str, at: datetime | None = None) -> IotSim | None:
    """The SIM is now `to` (the provider said so, or we just told it): move the row and
    tell its vendor (`sim.status_changed`), once: under the row's lock, a SIM already `to`
    (another sync, the events, our own call saw it first) or a change older than the
    last one recorded (`at`, a provider event read late) moves nothing. None then."""
    with transaction.atomic():
        sim = IotSim.objects.select_for_update().get(pk=sim_id)
        if sim.status == to:
            return None
        if at is not None and sim.status_changed_at is not None and at <= sim.status_changed_at:
            return None
        sim, before = transition(
            IotSim, pk=sim_id, table=SIM_STATES, to=to, status_changed_at=at or timezone.now()
        )
        if sim.vendor_id is not None:
            event_record(
                vendor_id=sim.vendor_id,
                livemode=sim.livemode,
                type="sim.status_changed",
                data={"sim": sim_public(sim), "previous_status": before},
            )
    return sim


# --- SIM events -------------------------------------------------------------------------
EVENT_PAGE_SIZE = 100
_STATUS_TO = re.compile(r"to\s+'([^']+)'", re.IGNORECASE)
_ENABLED_WORDS = {"enabled", "activated", "active"}
_DISABLED_WORDS = {"disabled", "deactivated", "suspended", "inactive", "blocked"}


def event_classify(event: IotEvent) -> tuple[str, str]:
    """(our kind, the status a status change moved the SIM to, or "") from the provider's
    event type text and description (1NCE: `Update location`, `Purge GPRS location`,
    `Create PDP Context`, quota threshold texts, "... from 'Enabled' to 'Disabled'")."""
    K = IotSimEvent.Kind
    kind = event.kind.lower()
    text = f"{kind} {event.description.lower()}"
    moved = _STATUS_TO.search(event.description)
    target = moved.group(1).strip().lower() if moved else ""
    if ("status" in kind or "state" in kind) and (
        target in _ENABLED_WORDS or target in _DISABLED_WORDS
    ):
        status = IotSim.Status.ENABLED if target in _ENABLED_WORDS else IotSim.Status.DISABLED
        return K.STATUS_CHANGE, status
    if "purge" in kind or "detach" in kind:
        return K.DETACH, ""
    if ("update" in kind and "location" in kind) or "attach" in kind:
        return K.ATTACH, ""
    if "create pdp" in kind:
        return K.SESSION_START, ""
    if "delete pdp" in kind:
        return K.SESSION_END, ""
    if "quota" in text or "threshold" in text or "exhausted" in text:
        return K.QUOTA_WARNING, ""
    return K.OTHER, ""


def sim_events_sync(*, sim: IotSim, pages: int = 1) -> int:
    """The SIM's latest events from the provider (newest `pages` pages), each stored once
    (unique per SIM and provider id: a re-read or a concurrent sync adds nothing). A
    status change among them moves the SIM and sends `sim.status_changed` through
    `sim_status_record`, so the change the SIM list also shows fires once. Quota warnings
    are stored only: their webhooks come from the quota readings (one per crossing)."""
    provider = provider_for(sim.livemode)
    read: list[IotEvent] = []
    for page in range(1, pages + 1):
        batch = provider.events(sim.iccid, page=page, page_size=EVENT_PAGE_SIZE)
        read += batch
        if len(batch) < EVENT_PAGE_SIZE:
            break
    now = timezone.now()
    by_id: dict[str, IotSimEvent] = {}
    for event in read:
        if not event.provider_id or event.provider_id in by_id:
            continue
        kind, status = event_classify(event)
        by_id[event.provider_id[:128]] = IotSimEvent(
            sim=sim,
            vendor_id=sim.vendor_id,
            livemode=sim.livemode,
            provider_id=event.provider_id[:128],
            kind=kind,
            upstream_kind=event.kind[:128],
            at=event.at or now,
            severity=event.severity[:32],
            alert=event.alert,
            description=event.description[:500],
            status=status,
        )
    with transaction.atomic():
        known = set(
            IotSimEvent.objects.filter(sim=sim, provider_id__in=list(by_id)).values_list(
                "provider_id", flat=True
            )
        )
        new = sorted((e for pid, e in by_id.items() if pid not in known), key=lambda e: e.at)
        IotSimEvent.objects.bulk_create(new, ignore_conflicts=True)
        IotSim.objects.filter(pk=sim.pk).update(events_synced_at=now)
    changes = [e for e in new if e.status]
    if changes:
        latest = changes[-1]
        sim_status_record(sim_id=sim.pk, to=latest.status, at=latest.at)
    return len(new)


def sims_for_events_sync(*, limit: int) -> list[int]:
    """The assigned SIMs whose events were read longest ago (never first): each beat run
    takes the next `limit`, so a large fleet is walked within the provider's rate limit."""
    return list(
        IotSim.objects.filter(vendor__isnull=False)
        .order_by(F("events_synced_at").asc(nulls_first=True), "id")
        .values_list("pk", flat=True)[:limit]
    )


def sim_refresh(*, sim: IotSim) -> IotSim:
    """One SIM and its quotas read from the provider now (the on-demand sync)."""
    provider = provider_for(sim.livemode)
    info = provider.get_sim(sim.iccid)
    data = provider.quota(sim.iccid, service="data")
    sms = provider.quota(sim.iccid, service="sms")
    IotSim.objects.filter(pk=sim.pk).update(
        **_sim_fields(info), quota_expires_at=data.expires_at, synced_at=timezone.now()
    )
    if info.status != sim.status:
        sim_status_record(sim_id=sim.pk, to=info.status)
    sim_quota_observe(
        sim_id=sim.pk,
        data_left=data.left,
        data_total=data.total,
        sms_left=sms.left,
        sms_total=sms.total,
        data_upstream=data.state,
        sms_upstream=sms.state,
    )
    sim_events_sync(sim=sim)
    sim.refresh_from_db()
    return sim


def usage_sync(*, sim: IotSim, start: date, end: date) -> int:
    """The SIM's daily usage from the provider, stored one row per day (re-read days are
    overwritten, not added); this month's total kept on the SIM for filters. In the same
    transaction the fleet's daily rollup gets the difference of each day overwritten: the
    SIM's row is locked first, so two syncs of one SIM take their turns, and the rollup
    rows are incremented atomically, so syncs of other SIMs of the fleet add up."""
    days = {d.day: d for d in provider_for(sim.livemode).usage(sim.iccid, start=start, end=end)}
    with transaction.atomic():
        owner = IotSim.objects.select_for_update().values("vendor_id", "livemode").get(pk=sim.pk)
        rows = [
            IotUsageDay(
                sim=sim,
                vendor_id=owner["vendor_id"],
                livemode=owner["livemode"],
                day=d.day,
                data_bytes=d.data_bytes,
                sms_mo=d.sms_mo,
                sms_mt=d.sms_mt,
            )
            for d in days.values()
        ]
        before = list(
            IotUsageDay.objects.filter(sim=sim, day__in=list(days)).values(
                "vendor_id", "livemode", "day", "data_bytes", "sms_mo", "sms_mt"
            )
        )
        if rows:
            IotUsageDay.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["sim", "day"],
                update_fields=["data_bytes", "sms_mo", "sms_mt", "vendor", "livemode"],
            )
        deltas: dict[tuple[int, bool, date], list[int]] = {}
        for sign, changed in (
            (-1, before),
            (1, [{f: getattr(r, f) for f in _USAGE_FIELDS} for r in rows]),
        ):
            for r in changed:
                if r["vendor_id"] is None:
                    continue
                delta = deltas.setdefault((r["vendor_id"], r["livemode"], r["day"]), [0, 0, 0])
                delta[0] += sign * r["data_bytes"]
                delta[1] += sign * r["sms_mo"]
                delta[2] += sign * r["sms_mt"]
        usage_rollup_add(deltas=deltas)
        month = timezone.now().date().replace(day=1)
        total = IotUsageDay.objects.filter(sim=sim, day__gte=month).aggregate(t=Sum("data_bytes"))[
            "t"
        ]
        IotSim.objects.filter(pk=sim.pk).update(month_start=month, month_data_bytes=total or 0)
    return len(rows)


_USAGE_FIELDS = ("vendor_id", "livemode", "day", "data_bytes", "sms_mo", "sms_mt")


def usage_rollup_add(*, deltas: dict[tuple[int, bool, date], list[int]]) -> None:
    """Add (data bytes, SMS MO, SMS MT) to each (vendor, livemode, day) rollup row, creating
    it if missing, in one `INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x`: atomic
    against concurrent syncs, and in key order so two of them never deadlock."""
    changed = sorted((k, v) for k, v in deltas.items() if any(v))
    if not changed:
        return
    table = connection.ops.quote_name(IotUsageRollup._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(changed))
    params: list[Any] = []
    for (vendor_id, livemode, day), (data_bytes, sms_mo, sms_mt) in changed:
        params += [vendor_id, livemode, day, data_bytes, sms_mo, sms_mt]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (vendor_id, livemode, day, data_bytes, sms_mo, sms_mt)"  # noqa: S608
            f" VALUES {values} ON CONFLICT (vendor_id, livemode, day) DO UPDATE SET"
            f" data_bytes = {table}.data_bytes + excluded.data_bytes,"
            f" sms_mo = {table}.sms_mo + excluded.sms_mo,"
            f" sms_mt = {table}.sms_mt + excluded.sms_mt",
            params,
        )


# --- enable / disable / label -----------------------------------------------------------
def sim_status_set(*, sim: IotSim, to: str) -> IotSim:
    """Enable or disable one SIM at the provider, then here (`invalid_state` if it already is)."""
    action = "enable" if to == IotSim.Status.ENABLED else "disable"
    if not SIM_STATES.may(action, sim.status):
        raise SIM_STATES.refuse(sim.iccid, sim.status, to, action)
    provider_for(sim.livemode).update_sim(IotSimChange(iccid=sim.iccid, status=to))
    sim_status_record(sim_id=sim.pk, to=to)
    sim.refresh_from_db()
    return sim


def sim_label_set(*, sim: IotSim, label: str) -> IotSim:
    provider_for(sim.livemode).update_sim(IotSimChange(iccid=sim.iccid, label=label))
    IotSim.objects.filter(pk=sim.pk).update(label=label)
    sim.refresh_from_db()
    return sim


def bulk_job_create(*, vendor: Vendor, sims: list[IotSim], action: str) -> IotBulkJob:
    """One job for many SIMs, run in the background in chunks; its progress is `done`."""
    with transaction.atomic():
        job = IotBulkJob.objects.create(
            vendor=vendor,
            livemode=vendor.livemode,
            action=action,
            sim_ids=[s.pk for s in sims],
            total=len(sims),
        )
        task_enqueue("iot.tasks.iot_bulk_job_run", job.pk)
    return job


def bulk_job_run(*, job_id: int) -> IotBulkJob:
    """Apply a bulk job chunk by chunk (one provider call each); a re-run after a crash
    goes on from `done` (SIMs already in the target status are skipped)."""
    job = IotBulkJob.objects.get(pk=job_id)
    if job.status == IotBulkJob.Status.QUEUED:
        transition(IotBulkJob, pk=job_id, table=BULK_JOB_STATES, to="running")
    elif job.status != IotBulkJob.Status.RUNNING:
        return job
    to = IotSim.Status.ENABLED if job.action == IotBulkJob.Action.ENABLE else "disabled"
    source = IotSim.Status.DISABLED if to == IotSim.Status.ENABLED else IotSim.Status.ENABLED
    provider = provider_for(job.livemode)
    ids = list(job.sim_ids)
    try:
        for start in range(job.done, len(ids), BULK_CHUNK):
            chunk = ids[start : start + BULK_CHUNK]
            sims = list(IotSim.objects.filter(pk__in=chunk, vendor_id=job.vendor_id))
            todo = [s for s in sims if s.status == source]
            if todo:
                provider.update_sims([IotSimChange(iccid=s.iccid, status=to) for s in todo])
                for sim in todo:
                    sim_status_record(sim_id=sim.pk, to=to)
            IotBulkJob.objects.filter(pk=job_id).update(done=start + len(chunk))
    except ProviderError as exc:
        transition(IotBulkJob, pk=job_id, table=BULK_JOB_STATES, to="failed", error=str(exc)[:500])
        raise
    transition(IotBulkJob, pk=job_id, table=BULK_JOB_STATES, to="completed")
    return IotBulkJob.objects.get(pk=job_id)


# --- top-ups ----------------------------------------------------------------------------
def topup_price(*, vendor: Vendor) -> tuple[Money, Money]:
    """(our price to the vendor, our cost) of one standard top-up."""
    currency = settings.DEFAULT_CURRENCY
    if vendor.currency != currency:
        raise DomainError(
            "invalid_state",
            f"IoT top-ups are sold in {currency}; this account is billed in {vendor.currency}.",
        )
    cost = Money.from_decimal(Decimal(settings.IOT_TOPUP_COST), currency)
    return vendor_price_from_cost(vendor=vendor, cost=cost), cost


def month_start() -> datetime:
    now = timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _auto_cap_check(sim: IotSim) -> None:
    """Inside the reserve's transaction: lock the fleet row, count this month's automatic
    top-ups (the SIM's, the fleet's) and refuse past either cap."""
    assert sim.vendor_id is not None
    fleet, _ = IotFleetSettings.objects.get_or_create(vendor_id=sim.vendor_id)
    fleet = IotFleetSettings.objects.select_for_update().get(pk=fleet.pk)
    month = IotTopup.objects.filter(
        vendor_id=sim.vendor_id,
        source=IotTopup.Source.AUTO,
        created_at__gte=month_start(),
    ).exclude(status=IotTopup.Status.FAILED)
    sim_cap = (
        sim.auto_topup_monthly_cap
        if sim.auto_topup_monthly_cap is not None
        else fleet.sim_monthly_cap
    )
    if month.filter(sim=sim).count() >= sim_cap:
        raise DomainError("invalid_state", "This SIM reached its monthly auto top-up cap.")
    if fleet.monthly_cap and month.count() >= fleet.monthly_cap:
        raise DomainError("invalid_state", "The fleet reached its monthly auto top-up cap.")


def topup_buy(*, sim: IotSim, source: str = IotTopup.Source.API) -> IotTopup:
    """Reserve the price, buy the top-up at the provider, charge (or release) the hold.
    When the provider's answer is lost (the outcome is unknown) the top-up is returned
    `reserved`, its hold kept, for `topup_reconcile` to settle."""
    if sim.vendor_id is None:
        raise DomainError("not_found", "No such SIM.")
    vendor = Vendor.objects.get(pk=sim.vendor_id)
    price, cost = topup_price(vendor=vendor)
    with transaction.atomic():
        if source == IotTopup.Source.AUTO:
            _auto_cap_check(sim)
        topup = IotTopup.objects.create(
            vendor=vendor,
            livemode=sim.livemode,
            sim=sim,
            source=source,
            price_amount=price.amount,
            cost_amount=cost.amount,
            currency=price.currency,
            data_bytes=settings.IOT_TOPUP_DATA_MB * BYTES_PER_MB,
            sms=settings.IOT_TOPUP_SMS,
            data_total_before=sim.data_total_bytes,
        )
        hold_create(
            account=vendor_account(vendor=vendor, currency=price.currency),
            amount=price,
            reference=f"iot-topup:{topup.pk}:reserve",
            counter_account=platform_account(Purpose.REVENUE, price.currency, vendor.livemode),
        )
    try:
        order_number = provider_for(sim.livemode).topup(sim.iccid)
    except ProviderError as exc:
        if exc.transient and exc.request_sent:
            # It may have been bought: the hold stays and the vendor sees `reserved` until
            # `topup_reconcile` asks the provider (never by buying again).
            logger.warning("iot top-up %s: outcome unknown (%s)", topup.pk, exc)
            IotTopup.objects.filter(pk=topup.pk, status=IotTopup.Status.RESERVED).update(
                outcome_unknown_at=timezone.now(), error=str(exc)[:500]
            )
            # Answered as it stands (`reserved`), not as an error: a retry of the request
            # replays this answer instead of buying a second top-up.
            topup.refresh_from_db()
            return topup
        topup_fail(topup_id=topup.pk, error=str(exc))
        raise
    return topup_complete(topup_id=topup.pk, provider_order=order_number)


def _hold(topup_id: int) -> Hold:
    return Hold.objects.get(reference=f"iot-topup:{topup_id}:reserve")


def topup_complete(*, topup_id: int, provider_order: str) -> IotTopup:
    """The provider sold it: charge the hold, book our cost, add the volume to the SIM."""
    return _topup_charge(topup_id=topup_id, provider_order=provider_order)[0]


def _topup_charge(*, topup_id: int, provider_order: str) -> tuple[IotTopup, bool]:
    """`topup_complete`, and whether this call charged it (False: it was settled)."""
    with transaction.atomic():
        topup = IotTopup.objects.select_for_update().get(pk=topup_id)
        if topup.status == IotTopup.Status.COMPLETED:
            return topup, False
        if topup.status == IotTopup.Status.FAILED:
            # Released already (only after the provider showed no trace of it for
            # IOT_TOPUP_RECONCILE_GIVE_UP_SECONDS): an operator must look.
            logger.error("iot top-up %s: bought after it was released", topup_id)
            return topup, False
        hold_capture(
            hold=_hold(topup_id),
            reference=f"iot-topup:{topup_id}:charge",
            kind=Transaction.Kind.ORDER_CHARGE,
            description=f"IoT SIM top-up {topup.sim.iccid}",
            metadata={"iot_topup_id": topup_id, "vendor_id": topup.vendor_id},
        )
        cost = Money(topup.cost_amount, topup.currency)
        ledger_post(
            reference=f"iot-topup:{topup_id}:cost",
            entries=[
                (platform_account(Purpose.COGS, cost.currency, topup.livemode), cost.amount),
                (
                    platform_account(Purpose.PROVIDER_PAYABLE, cost.currency, topup.livemode),
                    -cost.amount,
                ),
            ],
            kind=Transaction.Kind.ORDER_COST,
            description=f"Provider cost of IoT top-up {topup_id}",
        )
        topup, _ = transition(
            IotTopup,
            pk=topup_id,
            table=TOPUP_STATES,
            to="completed",
            provider_order=provider_order[:64],
        )
        sim = IotSim.objects.select_for_update().get(pk=topup.sim_id)
        IotSim.objects.filter(pk=sim.pk).update(
            data_left_bytes=(sim.data_left_bytes or 0) + topup.data_bytes,
            data_total_bytes=(sim.data_total_bytes or 0) + topup.data_bytes,
            sms_left=(sim.sms_left or 0) + topup.sms,
            sms_total=(sim.sms_total or 0) + topup.sms,
        )
        sim.refresh_from_db()
        # Above the threshold again: the next crossing fires again.
        for service, left, total in (
            ("data", sim.data_left_bytes, sim.data_total_bytes),
            ("sms", sim.sms_left, sim.sms_total),
        ):
            if quota_level(left, total) == L.OK:
                IotSim.objects.filter(pk=sim.pk).update(**{f"{service}_level": L.OK})
    return topup, True


def topup_fail(*, topup_id: int, error: str) -> IotTopup:
    """The provider did not sell it: release the hold, once (a top-up no longer reserved
    is left as it is)."""
    return _topup_release(topup_id=topup_id, error=error)[0]


def _topup_release(*, topup_id: int, error: str) -> tuple[IotTopup, bool]:
    with transaction.atomic():
        topup = IotTopup.objects.select_for_update().get(pk=topup_id)
        if topup.status != IotTopup.Status.RESERVED:
            return topup, False
        hold_void(hold=_hold(topup_id))
        topup, _ = transition(
            IotTopup, pk=topup_id, table=TOPUP_STATES, to="failed", error=error[:500]
        )
    return topup, True


# --- top-ups whose outcome is unknown -------------------------------------------------
RECONCILE_ORDER_PAGES = 5  # 1NCE pages orders by 10: the 50 newest
ORDER_CLOCK_SKEW = timedelta(minutes=10)
TOPUP_ORDER_KINDS = ("TOPUP", "BULK_TOPUP")


def topups_to_reconcile(*, now: datetime | None = None) -> list[int]:
    """Reserved top-ups whose buy call is over without an answer (after
    IOT_TOPUP_RECONCILE_AFTER_SECONDS), or whose process died during it (reserved past
    IOT_TOPUP_STALE_SECONDS). One still being bought is neither: it is never touched."""
    now = now or timezone.now()
    reserved = IotTopup.objects.filter(status=IotTopup.Status.RESERVED)
    unknown = reserved.filter(
        outcome_unknown_at__lte=now - timedelta(seconds=settings.IOT_TOPUP_RECONCILE_AFTER_SECONDS)
    )
    stale = reserved.filter(
        outcome_unknown_at__isnull=True,
        created_at__lte=now - timedelta(seconds=settings.IOT_TOPUP_STALE_SECONDS),
    )
    return sorted(
        set(unknown.values_list("pk", flat=True)) | set(stale.values_list("pk", flat=True))
    )


def _topup_evidence(topup: IotTopup) -> str | None:
    """What the provider shows of this top-up: its order number (a TOPUP order of the
    SIM since the top-up was made, not already another top-up's), "quota" when only the
    SIM's data total grew by it, or None when it shows nothing."""
    provider = provider_for(topup.livemode)
    taken = set(
        IotTopup.objects.filter(sim_id=topup.sim_id)
        .exclude(pk=topup.pk)
        .exclude(provider_order="")
        .values_list("provider_order", flat=True)
    )
    since = topup.created_at - ORDER_CLOCK_SKEW
    for page in range(1, RECONCILE_ORDER_PAGES + 1):
        orders = provider.list_orders(page=page)
        for order in orders:
            if (
                order.kind.upper() in TOPUP_ORDER_KINDS
                and topup.sim.iccid in order.iccids
                and (order.created_at is None or order.created_at >= since)
                and order.number not in taken
                and "cancel" not in order.status.lower()
            ):
                return order.number or "history"
        if len(orders) < 10:
            break
    if topup.data_total_before is not None and not _topup_neighbours(topup).exists():
        # The SIM's total grew by a top-up since we read it: this one (no other top-up of
        # the SIM near it in time that could explain the growth).
        quota = provider.quota(topup.sim.iccid, service="data")
        if quota.total >= topup.data_total_before + topup.data_bytes:
            return "quota"
    return None


def _topup_neighbours(topup: IotTopup) -> Any:
    """Other top-ups of the SIM, not failed, within a day of this one: with any of them
    the quota's growth is ambiguous, and only an order number settles it."""
    return (
        IotTopup.objects.filter(
            sim_id=topup.sim_id,
            created_at__gte=topup.created_at - timedelta(days=1),
            created_at__lte=topup.created_at + timedelta(days=1),
        )
        .exclude(pk=topup.pk)
        .exclude(status=IotTopup.Status.FAILED)
    )


def topup_reconcile(*, topup_id: int, now: datetime | None = None) -> str:
    """Settle one top-up whose outcome is unknown by asking the provider what it sold
    (its top-up orders, then the SIM's data total), never by buying again: found, the
    hold is charged (`completed`); not found IOT_TOPUP_RECONCILE_GIVE_UP_SECONDS after the
    unknown outcome, it is released (`failed`); otherwise it waits for the next run.
    Charge and release each lock the top-up and act only on a `reserved` one, so
    concurrent reconcilers and a late answer of the buy call settle it once."""
    now = now or timezone.now()
    topup = IotTopup.objects.select_related("sim").get(pk=topup_id)
    if topup.status != IotTopup.Status.RESERVED:
        return "settled"
    evidence = _topup_evidence(topup)  # provider calls: outside any transaction
    if evidence is not None:
        _, charged = _topup_charge(topup_id=topup_id, provider_order=evidence)
        return "charged" if charged else "settled"
    since = topup.outcome_unknown_at or topup.created_at
    if since > now - timedelta(seconds=settings.IOT_TOPUP_RECONCILE_GIVE_UP_SECONDS):
        return "waiting"
    if _topup_neighbours(topup).exists():
        # Not provably unsold (another top-up of the SIM may hide its quota): the hold
        # stays for an operator rather than risk releasing something 1NCE sold.
        logger.error("iot top-up %s: outcome still unknown; an operator must settle it", topup_id)
        return "waiting"
    _, released = _topup_release(
        topup_id=topup_id, error="The provider shows no such top-up: nothing was bought."
    )
    return "released" if released else "settled"


def topups_reconcile(*, now: datetime | None = None) -> dict[str, int]:
    """Every top-up due for reconciliation (beat): counts per outcome."""
    counts: dict[str, int] = {}
    for topup_id in topups_to_reconcile(now=now):
        try:
            outcome = topup_reconcile(topup_id=topup_id, now=now)
        except ProviderError as exc:
            logger.warning("iot top-up %s: reconciliation deferred (%s)", topup_id, exc)
            outcome = "deferred"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def auto_topup_run(*, sim_id: int) -> IotTopup | None:
    """A crossing queued this: buy one automatic top-up unless a cap, the setting, or the
    wallet says no (then the vendor already has the quota webhook)."""
    sim = IotSim.objects.get(pk=sim_id)
    if sim.vendor_id is None or not auto_topup_enabled(sim):
        return None
    try:
        return topup_buy(sim=sim, source=IotTopup.Source.AUTO)
    except DomainError as exc:
        logger.info("iot auto top-up of %s not made: %s", sim.iccid, exc)
        return None


def sim_auto_topup_set(*, sim: IotSim, enabled: bool | None, cap: int | None) -> IotSim:
    """One SIM's own auto top-up: on, off, or None to follow the fleet's setting; `cap`
    its own monthly cap of automatic top-ups (None: the fleet's per-SIM cap)."""
    IotSim.objects.filter(pk=sim.pk).update(auto_topup=enabled, auto_topup_monthly_cap=cap)
    sim.refresh_from_db()
    return sim


FLEET_SETTINGS = ("auto_topup", "monthly_cap", "sim_monthly_cap")


def fleet_settings_set(*, vendor: Vendor, **values: Any) -> IotFleetSettings:
    """The fleet-wide auto top-up (`auto_topup`, `monthly_cap`, `sim_monthly_cap`; those
    not given are kept), under the settings row's lock."""
    unknown = set(values) - set(FLEET_SETTINGS)
    if unknown:
        raise ValueError(f"unknown fleet settings {sorted(unknown)}")
    with transaction.atomic():
        IotFleetSettings.objects.get_or_create(vendor=vendor)
        fleet = IotFleetSettings.objects.select_for_update().get(vendor=vendor)
        for name, value in values.items():
            setattr(fleet, name, value)
        fleet.save()
    return fleet


def auto_topup_set(
    *, vendor: Vendor, sims: Iterable[IotSim] | None, enabled: bool | None, cap: int | None
) -> None:
    """Per SIM (`sims`) or fleet-wide (`sims=None`): on/off and the monthly cap. The
    provider's own auto top-up stays off: ours is the one that is paid through the ledger."""
    if sims is None:
        fleet, _ = IotFleetSettings.objects.get_or_create(vendor=vendor)
        if enabled is not None:
            fleet.auto_topup = enabled
        if cap is not None:
            fleet.monthly_cap = cap
        fleet.save()
        return
    ids = [s.pk for s in sims]
    values: dict[str, Any] = {}
    if enabled is not None:
        values["auto_topup"] = enabled
    if cap is not None:
        values["auto_topup_monthly_cap"] = cap
    if values:
        IotSim.objects.filter(pk__in=ids, vendor=vendor).update(**values)


# --- SMS -------------------------------------------------------------------------------
def sms_send(*, vendor: Vendor, sims: list[IotSim], text: str) -> list[IotSms]:
    """One MT-SMS per SIM, queued here and sent by a task (no provider call in the request's
    transaction); each moves to pending (or failed) as the provider answers. Enabled SIMs
    only (`invalid_state` naming the others; nothing is sent then)."""
    disabled = [s.iccid for s in sims if s.status != IotSim.Status.ENABLED]
    if disabled:
        raise DomainError(
            "invalid_state", "SMS go to enabled SIMs only.", details={"iccids": disabled[:20]}
        )
    with transaction.atomic():
        rows = IotSms.objects.bulk_create(
            [
                IotSms(
                    vendor=vendor,
                    livemode=vendor.livemode,
                    sim=sim,
                    direction=IotSms.Direction.MT,
                    text=text,
                    status=IotSms.Status.QUEUED,
                )
                for sim in sims
            ]
        )
        if not all(r.pk for r in rows):  # backends that return no ids (none we run)
            rows = list(IotSms.objects.filter(vendor=vendor).order_by("-id")[: len(sims)])
        task_enqueue("iot.tasks.iot_sms_send", [r.pk for r in rows])
    return rows


def sms_deliver(*, sms_ids: list[int]) -> None:
    """Send queued MT-SMS at the provider, one call each."""
    for sms in IotSms.objects.filter(pk__in=sms_ids, status=IotSms.Status.QUEUED).select_related(
        "sim"
    ):
        try:
            provider_id = provider_for(sms.livemode).sms_send(sms.sim.iccid, text=sms.text)
        except ProviderError as exc:
            if exc.transient:
                raise  # the task retries; still queued
            transition(IotSms, pk=sms.pk, table=SMS_STATES, to="failed", error=str(exc)[:500])
            continue
        transition(IotSms, pk=sms.pk, table=SMS_STATES, to="pending", provider_id=provider_id)


def sms_sync(*, sim: IotSim) -> int:
    """The SIM's messages from the provider: new replies (MO) are stored and sent to the
    vendor as `sim.sms_received`; our MT messages take their delivery status."""
    if sim.vendor_id is None:
        return 0
    received = 0
    for message in provider_for(sim.livemode).sms_list(sim.iccid):
        if not message.provider_id:
            continue
        if message.direction == "mo":
            with transaction.atomic():
                row, created = IotSms.objects.get_or_create(
                    sim=sim,
                    provider_id=message.provider_id,
                    defaults={
                        "vendor_id": sim.vendor_id,
                        "livemode": sim.livemode,
                        "direction": IotSms.Direction.MO,
                        "text": message.text[:1600],
                        "status": IotSms.Status.RECEIVED,
                    },
                )
                if created:
                    received += 1
                    event_record(
                        vendor_id=sim.vendor_id,
                        livemode=sim.livemode,
                        type="sim.sms_received",
                        data={"sim": sim_public(sim), "sms_id": row.pk, "text": row.text},
                    )
            continue
        if message.status in ("delivered", "failed", "expired"):
            transition_rows(
                IotSms.objects.filter(sim=sim, provider_id=message.provider_id),
                table=SMS_STATES,
                to=message.status,
                expected=IotSms.Status.PENDING,
            )
    return received


def sims_with_recent_mt(*, hours: int = 24) -> list[int]:
    """SIMs that were sent an SMS lately: the ones whose replies are polled."""
    since = timezone.now() - timedelta(hours=hours)
    return list(
        IotSms.objects.filter(direction=IotSms.Direction.MT, created_at__gte=since)
        .values_list("sim_id", flat=True)
        .distinct()
    )


def month_usage_totals(*, vendor: Vendor, start: date, end: date) -> list[dict[str, Any]]:
    """The fleet's daily totals, read from the rollup `usage_sync` keeps (at most a row per
    mode and day, whatever the fleet's size); equal to `month_usage_totals_raw`."""
    return list(
        IotUsageRollup.objects.filter(vendor=vendor, day__gte=start, day__lte=end)
        .values("day")
        .annotate(data_bytes=Sum("data_bytes"), sms_mo=Sum("sms_mo"), sms_mt=Sum("sms_mt"))
        .order_by("day")
    )


def month_usage_totals_raw(*, vendor: Vendor, start: date, end: date) -> list[dict[str, Any]]:
    """The fleet's daily totals summed from every SIM's rows (one range on (vendor, day)):
    what the rollup must equal; kept for checks and the benchmark."""
    return list(
        IotUsageDay.objects.filter(vendor=vendor, day__gte=start, day__lte=end)
        .values("day")
        .annotate(data_bytes=Sum("data_bytes"), sms_mo=Sum("sms_mo"), sms_mt=Sum("sms_mt"))
        .order_by("day")
    )


def sims_assign(*, vendor: Vendor, iccids: list[str], unassigned: int = 0) -> int:
    """Give SIMs nobody has (of the vendor's mode) to `vendor`: the listed ICCIDs, and the
    first `unassigned` others. A SIM of another vendor is never taken."""
    free = IotSim.objects.filter(vendor__isnull=True, livemode=vendor.livemode)
    ids = list(free.filter(iccid__in=iccids).values_list("pk", flat=True))
    if unassigned:
        ids += list(
            free.exclude(pk__in=ids).order_by("id").values_list("pk", flat=True)[:unassigned]
        )
    return IotSim.objects.filter(pk__in=ids, vendor__isnull=True).update(vendor=vendor)
