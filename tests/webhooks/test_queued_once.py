"""The due-deliveries sweep queues a due delivery once per lease: never again while its
task may still wait in a backlog, never twice when sweeps run at once (issue: 8,999
tasks queued for 3,328 deliveries, 500 of them 11-12 times)."""

from __future__ import annotations

import threading
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tests.vendors.factories import vendor_with_key
from tests.webhooks.factories import endpoint_for
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.tasks import deliveries_send_due

SWEEPERS = 6


def _due_deliveries(n: int) -> list[int]:
    """`n` deliveries due now whose first send was lost."""
    vendor, _ = vendor_with_key()
    endpoint, _ = endpoint_for(vendor)
    with transaction.atomic():
        ids = []
        for _ in range(n):
            event = services._event_create(vendor_id=vendor.pk, type="order.completed", data={})
            ids.append(
                WebhookDelivery.objects.create(
                    event=event, endpoint=endpoint, vendor=vendor, next_attempt_at=timezone.now()
                ).pk
            )
    return ids


class Sent:
    def __init__(self) -> None:
        self.ids: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, delivery_id: int) -> None:
        with self.lock:
            self.ids.append(delivery_id)


def _sweep_at_once() -> None:
    barrier = threading.Barrier(SWEEPERS)

    def sweeper() -> None:
        try:
            barrier.wait()
            deliveries_send_due()
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(SWEEPERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweepers_queue_each_due_delivery_once_per_lease():
    ids = _due_deliveries(40)
    lease = timedelta(seconds=settings.WEBHOOKS_QUEUED_LEASE_SECONDS)
    start = timezone.now()
    sent = Sent()
    with mock.patch("webhooks.tasks.delivery_send.delay", side_effect=sent):
        with time_machine.travel(start + timedelta(seconds=1), tick=True):
            _sweep_at_once()
        assert sorted(sent.ids) == sorted(ids)
        # A backlog: nobody claimed them yet; the sweeps of the next minutes queue nothing.
        for minutes in (1, 2, 5):
            with time_machine.travel(start + timedelta(minutes=minutes), tick=True):
                _sweep_at_once()
        assert sorted(sent.ids) == sorted(ids)
        with time_machine.travel(start + lease + timedelta(seconds=2), tick=True):
            _sweep_at_once()
    assert sorted(sent.ids) == sorted(ids + ids)  # lost for a whole lease: once more


@pytest.mark.django_db
def test_a_delivery_claimed_by_a_worker_is_not_queued_again_and_its_retry_is_queued_once(
    django_capture_on_commit_callbacks,
):
    (delivery_id,) = _due_deliveries(1)
    start = timezone.now()
    queued: list[int] = []

    def sweep(offset: timedelta) -> None:
        with (
            time_machine.travel(start + offset),
            mock.patch("webhooks.tasks.delivery_send.delay", side_effect=queued.append),
            django_capture_on_commit_callbacks(execute=True),
        ):
            deliveries_send_due()

    sweep(timedelta(seconds=1))
    sweep(timedelta(minutes=1))
    sweep(timedelta(minutes=2))
    assert queued == [delivery_id]
    # The worker gets to it: the attempt fails, the retry is due 5 s later.
    with (
        time_machine.travel(start + timedelta(minutes=3)),
        mock.patch.object(services, "_post", return_value=(503, "", "")),
    ):
        assert services.delivery_attempt(delivery_id=delivery_id) is not None
    assert WebhookDelivery.objects.get(pk=delivery_id).queued_until is None
    sweep(timedelta(minutes=4))
    sweep(timedelta(minutes=5))
    assert queued == [delivery_id, delivery_id]
