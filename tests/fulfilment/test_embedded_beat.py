"""The embedded default runs the beat schedule in-process (ttelgo/embedded.py): scheduled
jobs fire at their intervals, and a provider order that completes later is finished with no
operator action, as a worker and beat would in production."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from fulfilment.tasks import order_provision
from orders.models import Order
from sandbox.provider import SandboxFaults, sandbox_faults_set
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, fund
from ttelgo.embedded import EmbeddedBeat

RAN: list[str] = []


@shared_task(name="tests.orders.embedded_probe")
def embedded_probe(label: str) -> None:
    RAN.append(label)


@shared_task(name="tests.orders.embedded_boom")
def embedded_boom() -> None:
    raise RuntimeError("boom")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_job_runs_at_its_interval_and_a_failing_one_does_not_stop_the_others():
    RAN.clear()
    clock = Clock()
    beat = EmbeddedBeat(
        {
            "fast": {"task": "tests.orders.embedded_probe", "schedule": 5.0, "args": ("fast",)},
            "slow": {"task": "tests.orders.embedded_probe", "schedule": 30.0, "args": ("slow",)},
            "boom": {"task": "tests.orders.embedded_boom", "schedule": 5.0},
        },
        clock=clock,
    )
    assert beat.tick() == []  # nothing is due at start
    clock.now += 5
    assert beat.tick() == ["fast", "boom"]
    clock.now += 4
    assert beat.tick() == []
    clock.now += 26
    assert sorted(beat.tick()) == ["boom", "fast", "slow"]
    assert RAN == ["fast", "fast", "slow"]


def test_every_scheduled_job_of_the_project_resolves_to_a_task():
    beat = EmbeddedBeat(settings.CELERY_BEAT_SCHEDULE)
    assert len(beat.jobs) == len(settings.CELERY_BEAT_SCHEDULE)
    from ttelgo.outbox import task_resolve

    for job in beat.jobs:
        assert task_resolve(job.task).name == job.task


@pytest.mark.django_db
def test_a_provider_order_still_processing_completes_through_the_embedded_schedule(
    bundles, django_capture_on_commit_callbacks
):
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    from orders.services import order_create_b2b

    order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=2)
    sandbox_faults_set(SandboxFaults(mode="processing", processing_seconds=60))
    order_provision.delay(order.pk)  # eager: the provider answers "processing"
    assert Order.objects.get(pk=order.pk).status == "provisioning"

    clock = Clock()
    schedule = {"orders-redrive-stuck": settings.CELERY_BEAT_SCHEDULE["orders-redrive-stuck"]}
    beat = EmbeddedBeat(schedule, clock=clock)
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        clock.now += schedule["orders-redrive-stuck"]["schedule"]
        with django_capture_on_commit_callbacks(execute=True):
            assert beat.tick() == ["orders-redrive-stuck"]
    order.refresh_from_db()
    assert order.status == "completed"
    assert order.esims.count() == 2


def test_the_embedded_default_runs_the_work_of_every_queue():
    """`make run` has no worker per pool: eager Celery runs a task sent to any queue."""
    from ttelgo.queues import QUEUES

    RAN.clear()
    for queue in QUEUES:
        embedded_probe.apply_async(args=(queue,), queue=queue)
    assert list(QUEUES) == RAN
