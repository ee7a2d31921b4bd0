"""The sandbox IoT provider: a simulated 1NCE fleet for test mode and `make run`.

Its SIMs are the `IotSim` rows of provider "sandbox" (made by `sandbox_iot_fleet_create`
for a vendor's test environment): enable/disable and labels are what our rows say, so a
sync finds them as we left them. Usage grows by a fixed, per-SIM amount each day since
activation (deterministic: a SIM's ICCID seeds it), which moves quotas towards the alert
threshold over the days; top-ups add 500 MB. An MT-SMS is answered at once by an MO echo
(`echo: <text>`), kept in the shared cache so the web process and workers see it.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from iot.models import IotSim
from providers.base import ProviderNotFound
from providers.iot import (
    QUOTA_OK,
    IotEvent,
    IotOrder,
    IotProduct,
    IotProductCharge,
    IotProvider,
    IotQuota,
    IotSimChange,
    IotSimInfo,
    IotSimPage,
    IotSms,
    IotUsage,
)
from vendors.models import Vendor

MB = 1024 * 1024
LIFETIME_DATA = 500 * MB
LIFETIME_SMS = 250
_SMS_KEY = "sandbox:iot:sms:{iccid}"
_TOPUPS_KEY = "sandbox:iot:topups:{iccid}"
_EVENTS_KEY = "sandbox:iot:events:{iccid}"
EVENT_DAYS = 7  # daily data sessions shown for the last week
_serial = itertools.count(1)


def _seed(iccid: str) -> int:
    return int(hashlib.sha256(iccid.encode()).hexdigest()[:8], 16)


def daily_bytes(iccid: str) -> int:
    """Between 1 and 20 MB a day, fixed per SIM."""
    return (1 + _seed(iccid) % 20) * MB


def sandbox_iot_fleet_create(*, vendor: Vendor, size: int) -> list[IotSim]:
    """`size` simulated SIMs for a vendor's test environment, activated over the last 30 days."""
    if vendor.livemode:
        raise ValueError("a simulated fleet belongs to a test environment")
    now = timezone.now()
    start = IotSim.objects.filter(provider="sandbox").count()
    sims = [
        IotSim(
            vendor=vendor,
            livemode=False,
            provider="sandbox",
            iccid=f"89882{vendor.pk:05d}{start + n:09d}",
            imsi=f"90140{start + n:010d}",
            msisdn=f"88228{start + n:010d}",
            label=f"device-{n + 1}",
            activated_at=now - timedelta(days=(start + n) % 30),
            data_left_bytes=LIFETIME_DATA,
            data_total_bytes=LIFETIME_DATA,
            sms_left=LIFETIME_SMS,
            sms_total=LIFETIME_SMS,
        )
        for n in range(size)
    ]
    with transaction.atomic():
        IotSim.objects.bulk_create(sims, batch_size=1000)
    return sims


class SandboxIotProvider(IotProvider):
    name = "sandbox"

    def _row(self, iccid: str) -> IotSim:
        sim = IotSim.objects.filter(provider="sandbox", iccid=iccid).first()
        if sim is None:
            raise ProviderNotFound(f"sandbox: no SIM {iccid}", status=404)
        return sim

    def _used(self, sim: IotSim) -> int:
        since = sim.activated_at or sim.created_at
        days = max(0, (timezone.now() - since).days)
        return days * daily_bytes(sim.iccid)

    def _left(self, sim: IotSim) -> tuple[int, int]:
        topups = int(cache.get(_TOPUPS_KEY.format(iccid=sim.iccid)) or 0)
        total = LIFETIME_DATA + topups * settings.IOT_TOPUP_DATA_MB * MB
        return max(0, total - self._used(sim)), total

    def _info(self, sim: IotSim) -> IotSimInfo:
        left, _ = self._left(sim)
        return IotSimInfo(
            iccid=sim.iccid,
            imsi=sim.imsi,
            msisdn=sim.msisdn,
            status=sim.status,
            label=sim.label,
            imei=sim.imei,
            imei_lock=sim.imei_lock,
            activated_at=sim.activated_at,
            data_left_bytes=left,
            sms_left=sim.sms_left if sim.sms_left is not None else LIFETIME_SMS,
        )

    def list_sims(self, *, page: int = 1, page_size: int = 100) -> IotSimPage:
        rows = IotSim.objects.filter(provider="sandbox").order_by("id")
        total = rows.count()
        sims = list(rows[(page - 1) * page_size : page * page_size])
        pages = max(1, -(-total // page_size))
        return IotSimPage(
            sims=[self._info(s) for s in sims], page=page, total_pages=pages, total_count=total
        )

    def get_sim(self, iccid: str) -> IotSimInfo:
        return self._info(self._row(iccid))

    def update_sim(self, change: IotSimChange) -> None:
        self._status_event(self._row(change.iccid), change)  # our service writes the row

    def update_sims(self, changes: list[IotSimChange]) -> None:
        rows = {
            s.iccid: s
            for s in IotSim.objects.filter(provider="sandbox", iccid__in=[c.iccid for c in changes])
        }
        for change in changes:
            if change.iccid in rows:
                self._status_event(rows[change.iccid], change)

    def _status_event(self, sim: IotSim, change: IotSimChange) -> None:
        """A status change is logged as 1NCE logs it ("from 'Enabled' to 'Disabled'")."""
        if change.status is None or change.status == sim.status:
            return
        key = _EVENTS_KEY.format(iccid=sim.iccid)
        logged = list(cache.get(key) or [])
        logged.append(
            IotEvent(
                f"sbx-state-{sim.iccid}-{len(logged) + 1}",
                sim.iccid,
                "SIM state change",
                datetime.now(UTC),
                "Info",
                False,
                f"SIM status changed from '{sim.status.title()}' to '{change.status.title()}'",
            )
        )
        cache.set(key, logged, timeout=30 * 86400)

    def usage(self, iccid: str, *, start: date, end: date) -> list[IotUsage]:
        sim = self._row(iccid)
        activated = (sim.activated_at or sim.created_at).date()
        per_day = daily_bytes(iccid)
        days = []
        day = max(start, activated)
        while day <= min(end, timezone.now().date()):
            days.append(IotUsage(day, per_day, per_day * 3 // 4, per_day // 4, 0, 0))
            day += timedelta(days=1)
        return days

    def quota(self, iccid: str, *, service: str) -> IotQuota:
        sim = self._row(iccid)
        if service == "sms":
            left = sim.sms_left if sim.sms_left is not None else LIFETIME_SMS
            return IotQuota("sms", left, sim.sms_total or LIFETIME_SMS, QUOTA_OK)
        left, total = self._left(sim)
        return IotQuota("data", left, total, QUOTA_OK, threshold_percent=20)

    def topup(self, iccid: str) -> str:
        self._row(iccid)
        key = _TOPUPS_KEY.format(iccid=iccid)
        cache.set(key, int(cache.get(key) or 0) + 1, timeout=None)
        return f"SBX-{next(_serial)}-{iccid[-6:]}"

    def auto_topup_set(self, iccids: list[str], *, enabled: bool) -> None:
        return None

    def sms_send(self, iccid: str, *, text: str, source_address: str = "") -> str:
        sim = self._row(iccid)
        key = _SMS_KEY.format(iccid=iccid)
        now = datetime.now(UTC)
        messages = list(cache.get(key) or [])
        sent_id = f"sbx-mt-{len(messages) + 1}"
        messages.append(IotSms(sent_id, iccid, "mt", text, "delivered", now, now))
        messages.append(
            IotSms(
                f"sbx-mo-{len(messages) + 1}",
                iccid,
                "mo",
                f"echo: {text}",
                "delivered",
                now,
                now,
                sim.msisdn,
            )
        )
        cache.set(key, messages, timeout=7 * 86400)
        return sent_id

    def sms_list(self, iccid: str, *, page: int = 1, page_size: int = 100) -> list[IotSms]:
        messages = list(cache.get(_SMS_KEY.format(iccid=iccid)) or [])
        return list(reversed(messages))[(page - 1) * page_size : page * page_size]

    def events(self, iccid: str, *, page: int = 1, page_size: int = 100) -> list[IotEvent]:
        """1NCE-like events, newest first: the attach at activation, a data session a day
        over the last week (create and delete PDP context), the quota warning on the day
        the data left fell under the threshold, and status changes made through us."""
        sim = self._row(iccid)
        activated = sim.activated_at or sim.created_at
        now = timezone.now()
        offset = timedelta(seconds=_seed(iccid) % 3600)
        found = [IotEvent(f"sbx-{iccid}-attach", iccid, "Update location", activated, "Info")]
        first = max(activated.date(), now.date() - timedelta(days=EVENT_DAYS - 1))
        day = first
        while day <= now.date():
            start = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + offset
            if activated <= start <= now:
                found.append(
                    IotEvent(f"sbx-{iccid}-pdp-{day}", iccid, "Create PDP Context", start, "Info")
                )
            end = start + timedelta(hours=1)
            if activated <= end <= now:
                found.append(
                    IotEvent(f"sbx-{iccid}-pdp-end-{day}", iccid, "Delete PDP Context", end, "Info")
                )
            day += timedelta(days=1)
        left, total = self._left(sim)
        if total and left * 100 < total * settings.IOT_QUOTA_THRESHOLD_PERCENT:
            per_day = daily_bytes(iccid)
            crossing_days = (total - total * settings.IOT_QUOTA_THRESHOLD_PERCENT // 100) // per_day
            at = min(now, activated + timedelta(days=int(crossing_days) + 1))
            found.append(
                IotEvent(
                    f"sbx-{iccid}-quota-{total}",
                    iccid,
                    "Quota threshold reached",
                    at,
                    "Warn",
                    True,
                    f"Less than {settings.IOT_QUOTA_THRESHOLD_PERCENT} % of the data quota left",
                )
            )
        found += list(cache.get(_EVENTS_KEY.format(iccid=iccid)) or [])
        found.sort(key=lambda e: e.at or now, reverse=True)
        return found[(page - 1) * page_size : page * page_size]

    def list_orders(self, *, page: int = 1, page_size: int = 10) -> list[IotOrder]:
        return []

    def list_products(self) -> list[IotProduct]:
        charge = IotProductCharge("Top-up", settings.IOT_TOPUP_COST, settings.DEFAULT_CURRENCY)
        return [IotProduct("sbx-topup", "Sandbox top-up", 1, (charge,))]
