"""A scripted IoT provider for the fleet's tests, and fleet helpers."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from iot.models import IotSim
from providers import ProviderRejected
from providers.iot import (
    IotEvent,
    IotOrder,
    IotProduct,
    IotProvider,
    IotQuota,
    IotSimChange,
    IotSimInfo,
    IotSimPage,
    IotSms,
    IotUsage,
)

MB = 1024 * 1024
_serial = itertools.count(1)


def info(iccid: str, **kwargs) -> IotSimInfo:
    values = {
        "iccid": iccid,
        "imsi": "9014" + iccid[-11:],
        "msisdn": "8822" + iccid[-11:],
        "status": "enabled",
        "label": "",
        "imei": "",
        "imei_lock": False,
    }
    values.update(kwargs)
    return IotSimInfo(**values)  # type: ignore[arg-type]


class FakeIot(IotProvider):
    name = "1nce"

    def __init__(self, sims: list[IotSimInfo] | None = None) -> None:
        self.sims = {s.iccid: s for s in sims or []}
        self.calls: list[tuple] = []
        self.topup_error: Exception | None = None
        self.sms: dict[str, list[IotSms]] = {}
        self.sim_events: dict[str, list[IotEvent]] = {}
        self.orders: list[IotOrder] = []
        self.quotas: dict[str, IotQuota] = {}
        self.lock = threading.Lock()

    def list_sims(self, *, page: int = 1, page_size: int = 100) -> IotSimPage:
        self.calls.append(("list", page))
        items = sorted(self.sims.values(), key=lambda s: s.iccid)
        pages = max(1, -(-len(items) // page_size))
        chunk = items[(page - 1) * page_size : page * page_size]
        return IotSimPage(chunk, page, pages, len(items))

    def get_sim(self, iccid: str) -> IotSimInfo:
        return self.sims[iccid]

    def update_sim(self, change: IotSimChange) -> None:
        self.calls.append(("update", change))
        self._apply(change)

    def update_sims(self, changes: list[IotSimChange]) -> None:
        self.calls.append(("bulk", len(changes)))
        for change in changes:
            self._apply(change)

    def _apply(self, change: IotSimChange) -> None:
        current = self.sims.get(change.iccid) or info(change.iccid)
        values: dict[str, Any] = {
            k: v for k, v in (("status", change.status), ("label", change.label)) if v is not None
        }
        self.sims[change.iccid] = replace(current, **values)

    def usage(self, iccid: str, *, start: date, end: date) -> list[IotUsage]:
        days = (end - start).days + 1
        return [IotUsage(start + timedelta(d), 10 * MB, 8 * MB, 2 * MB, 1, 2) for d in range(days)]

    def quota(self, iccid: str, *, service: str) -> IotQuota:
        with self.lock:
            self.calls.append(("quota", iccid, service))
        if (iccid, service) in self.quotas:
            return self.quotas[(iccid, service)]  # type: ignore[index]
        sim = self.sims[iccid]
        if service == "data":
            return IotQuota("data", sim.data_left_bytes or 0, 500 * MB)
        return IotQuota("sms", sim.sms_left or 0, 250)

    def topup(self, iccid: str) -> str:
        with self.lock:
            self.calls.append(("topup", iccid))
        if self.topup_error is not None:
            raise self.topup_error
        return f"ORD-{next(_serial)}"

    def auto_topup_set(self, iccids: list[str], *, enabled: bool) -> None:
        self.calls.append(("auto", enabled))

    def sms_send(self, iccid: str, *, text: str, source_address: str = "") -> str:
        if iccid.endswith("bad"):
            raise ProviderRejected("bad SIM", status=400)
        n = next(_serial)
        self.sms.setdefault(iccid, []).extend(
            [
                IotSms(f"mt-{n}", iccid, "mt", text, "delivered"),
                IotSms(f"mo-{n}", iccid, "mo", f"echo: {text}", "delivered"),
            ]
        )
        return f"mt-{n}"

    def sms_list(self, iccid: str, *, page: int = 1, page_size: int = 100) -> list[IotSms]:
        return list(self.sms.get(iccid, []))

    def events(self, iccid: str, *, page: int = 1, page_size: int = 100) -> list[IotEvent]:
        with self.lock:
            self.calls.append(("events", iccid, page))
        found = sorted(
            self.sim_events.get(iccid, []), key=lambda e: e.at or datetime.min, reverse=True
        )
        return found[(page - 1) * page_size : page * page_size]

    def list_orders(self, *, page: int = 1, page_size: int = 10) -> list[IotOrder]:
        with self.lock:
            self.calls.append(("orders", page))
        return self.orders[(page - 1) * page_size : page * page_size]

    def list_products(self) -> list[IotProduct]:
        return []


def sims_for(vendor, n: int, *, start: int = 0, **kwargs) -> list[IotSim]:
    rows = [
        IotSim(
            vendor=vendor,
            livemode=vendor.livemode,
            provider="1nce",
            iccid=f"8988{vendor.pk:04d}{start + i:011d}",
            label=f"dev-{start + i}",
            data_left_bytes=400 * MB,
            data_total_bytes=500 * MB,
            sms_left=200,
            sms_total=250,
            **kwargs,
        )
        for i in range(n)
    ]
    return IotSim.objects.bulk_create(rows)
