"""Reads of a vendor's fleet. Every read is scoped to the vendor (its test environment is
a vendor of its own, so the livemode wall holds too): another vendor's SIM is not found."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from iot.models import IotBulkJob, IotSim, IotSimEvent, IotSms
from ttelgo.errors import DomainError
from vendors.models import Vendor

MB = 1024 * 1024


def sim_list_for_vendor(*, vendor: Vendor, **filters: Any) -> QuerySet[IotSim]:
    """The vendor's SIMs, by id. Filters: status, label (exact), label_contains, iccid,
    quota_level, usage_min_mb / usage_max_mb (this month's data), data_left_max_mb /
    data_left_min_mb."""
    sims = IotSim.objects.filter(vendor=vendor, livemode=vendor.livemode)
    if "status" in filters:
        sims = sims.filter(status=filters["status"])
    if "label" in filters:
        sims = sims.filter(label=filters["label"])
    if "label_contains" in filters:
        sims = sims.filter(label__icontains=filters["label_contains"])
    if "iccid" in filters:
        sims = sims.filter(iccid=filters["iccid"])
    if "quota_level" in filters:
        level = filters["quota_level"]
        sims = sims.filter(Q(data_level=level) | Q(sms_level=level))
    if "usage_min_mb" in filters:
        sims = sims.filter(month_data_bytes__gte=filters["usage_min_mb"] * MB)
    if "usage_max_mb" in filters:
        sims = sims.filter(month_data_bytes__lte=filters["usage_max_mb"] * MB)
    if "data_left_max_mb" in filters:
        sims = sims.filter(data_left_bytes__lte=filters["data_left_max_mb"] * MB)
    if "data_left_min_mb" in filters:
        sims = sims.filter(data_left_bytes__gte=filters["data_left_min_mb"] * MB)
    return sims.order_by("id")


def sim_get_for_vendor(*, vendor: Vendor, iccid: str) -> IotSim:
    sim = sim_list_for_vendor(vendor=vendor).filter(iccid=iccid).first()
    if sim is None:
        raise DomainError("not_found", "SIM not found.", details={"iccid": iccid})
    return sim


def sims_get_for_vendor(*, vendor: Vendor, iccids: list[str]) -> list[IotSim]:
    """All of them or `not_found` naming the ones that are not the vendor's."""
    wanted = list(dict.fromkeys(iccids))
    sims = list(sim_list_for_vendor(vendor=vendor).filter(iccid__in=wanted))
    missing = sorted(set(wanted) - {s.iccid for s in sims})
    if missing:
        raise DomainError("not_found", "SIM not found.", details={"iccids": missing[:20]})
    return sims


def sms_list_for_vendor(*, vendor: Vendor, **filters: Any) -> QuerySet[IotSms]:
    rows = IotSms.objects.filter(vendor=vendor, livemode=vendor.livemode).select_related("sim")
    if "direction" in filters:
        rows = rows.filter(direction=filters["direction"])
    if "iccid" in filters:
        rows = rows.filter(sim__iccid=filters["iccid"])
    return rows.order_by("-id")


def bulk_job_get_for_vendor(*, vendor: Vendor, job_id: int) -> IotBulkJob:
    job = IotBulkJob.objects.filter(vendor=vendor, livemode=vendor.livemode, pk=job_id).first()
    if job is None:
        raise DomainError("not_found", "Job not found.", details={"id": job_id})
    return job


def event_list_for_vendor(
    *, vendor: Vendor, sim: IotSim | None = None, **filters: Any
) -> QuerySet[IotSimEvent]:
    """The vendor's SIM events (of its mode), newest first; `sim` one SIM's."""
    rows = IotSimEvent.objects.filter(vendor=vendor, livemode=vendor.livemode).select_related("sim")
    if sim is not None:
        rows = rows.filter(sim=sim)
    if "iccid" in filters:
        rows = rows.filter(sim__iccid=filters["iccid"])
    if "kind" in filters:
        rows = rows.filter(kind=filters["kind"])
    if "since" in filters:
        rows = rows.filter(at__gte=filters["since"])
    return rows.order_by("-id")
