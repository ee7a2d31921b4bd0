"""Celery tasks of the IoT fleet: thin, they take ids and call a service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from iot import services
from iot.models import IotSim
from providers import ProviderError


@shared_task(name="iot.tasks.iot_fleet_sync", acks_late=True)
def iot_fleet_sync(livemode: bool = True) -> dict[str, int]:
    """Beat: every SIM of the provider account (live), or of the sandbox (test mode)."""
    if livemode and settings.IOT_PROVIDER != "1nce":
        return {}
    return services.fleet_sync(livemode=livemode)


@shared_task(name="iot.tasks.iot_usage_sync", acks_late=True)
def iot_usage_sync(sim_ids: list[int] | None = None, days: int = 2) -> int:
    """Usage of the last `days` days for these SIMs (beat: every assigned SIM)."""
    end = timezone.now().date()
    sims = IotSim.objects.filter(vendor__isnull=False)
    if sim_ids is not None:
        sims = sims.filter(pk__in=sim_ids)
    count = 0
    for sim in sims.iterator(chunk_size=500):
        count += services.usage_sync(sim=sim, start=end - timedelta(days=days - 1), end=end)
    return count


@shared_task(name="iot.tasks.iot_sms_replies_sync", acks_late=True)
def iot_sms_replies_sync() -> int:
    """Beat: replies (and delivery reports) of SIMs sent an SMS in the last day."""
    received = 0
    for sim in IotSim.objects.filter(pk__in=services.sims_with_recent_mt()):
        received += services.sms_sync(sim=sim)
    return received


@shared_task(
    name="iot.tasks.iot_bulk_job_run",
    acks_late=True,
    autoretry_for=(ProviderError,),
    retry_backoff=True,
    max_retries=5,
)
def iot_bulk_job_run(job_id: int) -> Any:
    services.bulk_job_run(job_id=job_id)


@shared_task(
    name="iot.tasks.iot_sms_send",
    acks_late=True,
    autoretry_for=(ProviderError,),
    retry_backoff=True,
    max_retries=5,
)
def iot_sms_send(sms_ids: list[int]) -> None:
    services.sms_deliver(sms_ids=sms_ids)


@shared_task(name="iot.tasks.iot_auto_topup", acks_late=True)
def iot_auto_topup(sim_id: int) -> int | None:
    topup = services.auto_topup_run(sim_id=sim_id)
    return topup.pk if topup else None


@shared_task(name="iot.tasks.iot_events_sync", acks_late=True)
def iot_events_sync(sim_ids: list[int] | None = None) -> int:
    """Beat: the events of the assigned SIMs read longest ago (IOT_EVENTS_SYNC_BATCH a run)."""
    ids = (
        sim_ids
        if sim_ids is not None
        else services.sims_for_events_sync(limit=settings.IOT_EVENTS_SYNC_BATCH)
    )
    stored = 0
    for sim in IotSim.objects.filter(pk__in=ids, vendor__isnull=False).order_by("id"):
        try:
            stored += services.sim_events_sync(sim=sim)
        except ProviderError as exc:
            if not exc.transient:
                raise
            break  # the provider is struggling: the next run goes on from here
    return stored


@shared_task(name="iot.tasks.iot_topups_reconcile", acks_late=True)
def iot_topups_reconcile() -> dict[str, int]:
    """Beat: top-ups whose outcome is unknown, charged or released once each."""
    return services.topups_reconcile()
