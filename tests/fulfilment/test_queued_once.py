"""The provisioning re-drive queues an order whose task was lost once per lease: never
again while that task may still wait in a backlog, and never twice when sweeps run at
once (issue: 396 tasks queued for 195 orders during a backlog)."""

from __future__ import annotations

import threading
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from fulfilment.recovery import orders_redrive_stuck
from orders.services import order_create_b2b
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund
from vendors.models import Vendor

SWEEPERS = 6


def _orders(n: int) -> list[int]:
    bundles_create()
    vendor: Vendor = VendorFactory(currency="USD")  # type: ignore[assignment]
    fund(vendor, 1_000_000)
    with mock.patch("fulfilment.tasks.order_provision.delay"):
        return [
            order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1).pk
            for _ in range(n)
        ]


class Sent:
    """Stands in for the broker: which orders were queued, from any thread."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, order_id: int) -> None:
        with self.lock:
            self.ids.append(order_id)


def _sweep_at_once(sent: Sent) -> None:
    barrier = threading.Barrier(SWEEPERS)

    def sweeper() -> None:
        try:
            barrier.wait()
            orders_redrive_stuck(older_than=timedelta(seconds=0))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(SWEEPERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweepers_queue_each_lost_order_once_per_lease():
    ids = _orders(30)
    lease = timedelta(seconds=settings.ORDERS_QUEUED_LEASE_SECONDS)
    start = timezone.now()
    sent = Sent()
    with mock.patch("fulfilment.tasks.order_provision.delay", side_effect=sent):
        # The tasks queued with the orders were lost (the lease is over): queued again once.
        with time_machine.travel(start + lease + timedelta(seconds=1), tick=True):
            _sweep_at_once(sent)
        assert sorted(sent.ids) == sorted(ids)
        # Still waiting in a backlog: the sweeps of the next minutes leave them alone.
        for minutes in (1, 2, 4):
            with time_machine.travel(start + lease + timedelta(minutes=minutes), tick=True):
                _sweep_at_once(sent)
        assert sorted(sent.ids) == sorted(ids)
        # A second lease is over: lost again, queued again, once.
        with time_machine.travel(start + 2 * lease + timedelta(seconds=2), tick=True):
            _sweep_at_once(sent)
    assert sorted(sent.ids) == sorted(ids + ids)


@pytest.mark.django_db
def test_an_order_waiting_in_a_backlog_is_not_queued_again_every_minute(
    django_capture_on_commit_callbacks,
):
    (order_id,) = _orders(1)
    lease = timedelta(seconds=settings.ORDERS_QUEUED_LEASE_SECONDS)
    start = timezone.now()
    queued: list[int] = []

    def sweep(offset: timedelta) -> None:
        with (
            time_machine.travel(start + offset),
            mock.patch("fulfilment.tasks.order_provision.delay", side_effect=queued.append),
            django_capture_on_commit_callbacks(execute=True),
        ):
            orders_redrive_stuck(older_than=timedelta(seconds=30))

    for offset in (timedelta(minutes=1), timedelta(minutes=2), lease - timedelta(seconds=5)):
        sweep(offset)
    assert queued == []  # its first task is still queued behind the others
    sweep(lease + timedelta(seconds=5))
    assert queued == [order_id]
    sweep(lease + timedelta(minutes=2))
    assert queued == [order_id]
