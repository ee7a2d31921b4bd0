"""Queues and worker pools (ttelgo/queues.py): every task has a queue a pool consumes,
test mode's provisioning and deliveries go to the test queue, the recovery sweeps have a
pool of their own, and the queue epoch voids markers set before the broker lost its data
or a worker started."""

from __future__ import annotations

import shlex
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
import time_machine
import yaml
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tests.orders.factories import BUNDLE_CODE, bundles_create, fund
from tests.vendors.factories import vendor_with_key
from tests.webhooks.factories import endpoint_for
from ttelgo import queues
from ttelgo.liveness import PROBE_TASK
from ttelgo.outbox import event_record

ROOT = Path(__file__).resolve().parent.parent.parent
# Every package of the project (the import contracts' list), so a new app is covered.
PROJECT_APPS = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
)


def _project_tasks() -> list[str]:
    current_app.loader.import_default_modules()
    return sorted(
        name
        for name in current_app.tasks
        if name.split(".")[0] in PROJECT_APPS and name != PROBE_TASK
    )


def test_every_task_of_the_project_is_routed_to_a_queue_that_a_pool_consumes():
    routes = settings.CELERY_TASK_ROUTES
    tasks = _project_tasks()
    assert len(tasks) >= 30
    missing = [name for name in tasks if name not in routes]
    assert missing == [], "route these tasks in CELERY_TASK_ROUTES"
    consumed = {q for pool in queues.POOLS.values() for q in pool}
    assert {route["queue"] for route in routes.values()} <= consumed
    assert settings.CELERY_TASK_DEFAULT_QUEUE in consumed


def test_beat_jobs_run_on_maintenance_and_the_recovery_sweeps_on_their_own_pool():
    routes = settings.CELERY_TASK_ROUTES
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert routes[entry["task"]]["queue"] in (queues.MAINTENANCE, queues.RECOVERY)
    for sweep in (
        "fulfilment.tasks.orders_redrive_stuck",
        "ttelgo.tasks.outbox_relay",
        "webhooks.tasks.deliveries_send_due",
    ):
        assert routes[sweep]["queue"] == queues.RECOVERY
    # Nothing the sweeps recover waits in their queue.
    assert routes["fulfilment.tasks.order_provision"]["queue"] == queues.PROVISIONING
    assert routes["webhooks.tasks.delivery_send"]["queue"] == queues.WEBHOOKS
    assert queues.POOLS[queues.RECOVERY] == (queues.RECOVERY,)


def _compose_workers() -> dict[str, list[str]]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    workers: dict[str, list[str]] = {}
    for name, service in compose["services"].items():
        command = service.get("command") or []
        argv = shlex.split(command) if isinstance(command, str) else command
        if argv[:4] == ["celery", "-A", "config", "worker"]:
            queues_arg = next(a for a in argv if a.startswith("--queues=") or a == "-Q")
            value = (
                argv[argv.index("-Q") + 1] if queues_arg == "-Q" else queues_arg.split("=", 1)[1]
            )
            workers[name] = value.split(",")
    return workers


def test_docker_compose_runs_one_worker_service_per_pool():
    workers = _compose_workers()
    assert sorted(tuple(q) for q in workers.values()) == sorted(queues.POOLS.values())


def _orders_sent(sent: mock.MagicMock, delayed: mock.MagicMock) -> list[tuple[int, str]]:
    out = [(c.kwargs["args"][0], c.kwargs["queue"]) for c in sent.call_args_list]
    return out + [(c.args[0], "route") for c in delayed.call_args_list]


@pytest.mark.django_db
def test_test_mode_provisioning_goes_to_the_test_queue_and_live_by_its_route(
    django_capture_on_commit_callbacks,
):
    from orders.services import order_create_b2b
    from vendors.services import vendor_test_environment

    bundles_create()
    live, _ = vendor_with_key()
    fund(live, 100_000)
    test, _ = vendor_test_environment(vendor=live)
    fund(test, 100_000)
    with (
        mock.patch("fulfilment.tasks.order_provision.apply_async") as sent,
        mock.patch("fulfilment.tasks.order_provision.delay") as delayed,
        django_capture_on_commit_callbacks(execute=True),
    ):
        live_order = order_create_b2b(vendor=live, bundle_code=BUNDLE_CODE, quantity=1)
        test_order = order_create_b2b(vendor=test, bundle_code=BUNDLE_CODE, quantity=1)
    assert (live_order.livemode, test_order.livemode) == (True, False)
    assert sorted(_orders_sent(sent, delayed)) == sorted(
        [(live_order.pk, "route"), (test_order.pk, queues.TEST)]
    )


@pytest.mark.django_db
def test_test_mode_deliveries_go_to_the_test_queue_and_live_by_their_route(
    django_capture_on_commit_callbacks,
):
    from vendors.services import vendor_test_environment

    live, _ = vendor_with_key()
    test, _ = vendor_test_environment(vendor=live)
    endpoint_for(live)
    endpoint_for(test)
    with (
        mock.patch("webhooks.tasks.delivery_send.apply_async") as sent,
        mock.patch("webhooks.tasks.delivery_send.delay") as delayed,
        django_capture_on_commit_callbacks(execute=True),
    ):
        event_record(vendor_id=live.pk, livemode=live.livemode, type="order.completed", data={})
        event_record(vendor_id=test.pk, livemode=test.livemode, type="order.completed", data={})
    assert [c.kwargs["queue"] for c in sent.call_args_list] == [queues.TEST]
    assert delayed.call_count == 1


@pytest.mark.django_db
def test_a_test_environments_events_are_published_by_test_modes_workers():
    """Publishing an event (storing it with its deliveries) is the test pool's work for a
    test environment, and the live webhooks pool's for a live vendor."""
    from ttelgo.models import OutboxMessage
    from ttelgo.outbox import EVENT_PUBLISH_TASK
    from vendors.services import vendor_test_environment

    live, _ = vendor_with_key()
    test, _ = vendor_test_environment(vendor=live)
    with transaction.atomic():
        event_record(vendor_id=live.pk, livemode=live.livemode, type="order.completed", data={})
        event_record(vendor_id=test.pk, livemode=test.livemode, type="order.completed", data={})
        messages = OutboxMessage.objects.filter(task=EVENT_PUBLISH_TASK).order_by("pk")
        assert [(m.args[0], m.queue) for m in messages] == [
            (live.pk, queues.WEBHOOKS),
            (test.pk, queues.TEST),
        ]
        transaction.set_rollback(True)


class FakeBroker:
    """The three Redis calls the epoch makes."""

    def __init__(self, uptime: int, run_id: str = "first") -> None:
        self.data: dict[str, bytes] = {}
        self.uptime = uptime
        self.run_id = run_id

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: str, nx: bool = False) -> None:
        if not (nx and key in self.data):
            self.data[key] = value.encode()

    def info(self, section: str) -> dict[str, int | str]:
        return {"uptime_in_seconds": self.uptime, "run_id": self.run_id}


def test_a_broker_without_the_epoch_key_lost_its_data_when_it_started():
    broker = FakeBroker(uptime=40)
    epoch = queues.queues_epoch(client=broker)
    assert epoch is not None
    assert abs((datetime.now(UTC) - epoch).total_seconds() - 40) < 5
    assert queues.queues_epoch(client=broker) == epoch  # kept: the same data, the same epoch
    broker.uptime = 4000
    assert queues.queues_epoch(client=broker) == epoch  # the same server, later


def test_a_broker_restarted_on_its_append_only_file_moves_the_epoch_to_its_start():
    """It kept the key, but may have lost its last second of writes and what its
    consumers had reserved: what was queued before it started is void."""
    broker = FakeBroker(uptime=4000)
    epoch = queues.queues_epoch(client=broker)
    assert epoch is not None
    broker.uptime, broker.run_id = 5, "second"
    restarted = queues.queues_epoch(client=broker)
    assert restarted is not None and abs(time.time() - 5 - restarted.timestamp()) < 5
    assert queues.queues_epoch(client=broker) == restarted  # once per server process
    queues.queues_epoch_mark(client=broker)  # a worker start after it still moves it
    marked = queues.queues_epoch(client=broker)
    assert marked is not None and marked > restarted


def test_a_worker_start_moves_the_epoch_to_now():
    broker = FakeBroker(uptime=4000)
    before = queues.queues_epoch(client=broker)
    queues.queues_epoch_mark(client=broker)
    after = queues.queues_epoch(client=broker)
    assert before is not None and after is not None
    assert after > before and abs(after.timestamp() - time.time()) < 5


@pytest.mark.django_db
def test_a_marker_set_before_the_epoch_is_void_at_once_one_set_after_it_holds_its_lease():
    from orders.models import Order
    from orders.services import order_create_b2b

    bundles_create()
    vendor, _ = vendor_with_key()
    fund(vendor, 100_000)
    with mock.patch("fulfilment.tasks.order_provision.delay"):
        order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    lease = timedelta(seconds=settings.ORDERS_QUEUED_LEASE_SECONDS)
    marker = Order.objects.get(pk=order.pk).provisioning_queued_until
    assert marker is not None and marker > timezone.now() + lease - timedelta(seconds=30)

    def void(epoch: datetime | None) -> bool:
        q = queues.queued_marker_void("provisioning_queued_until", lease=lease, epoch=epoch)
        lost = queues.queued_marker_lost("provisioning_queued_until", lease=lease, epoch=epoch)
        assert (
            Order.objects.filter(q, pk=order.pk).exists()
            is Order.objects.filter(lost, pk=order.pk).exists()
        )
        return Order.objects.filter(q, pk=order.pk).exists()

    assert void(None) is False  # within its lease
    assert void(timezone.now() - timedelta(minutes=1)) is False  # queued after the loss
    assert void(timezone.now() + timedelta(seconds=1)) is True  # the broker lost it since


@pytest.mark.django_db
def test_after_the_broker_lost_its_queues_the_redrive_queues_an_order_at_once(
    django_capture_on_commit_callbacks,
):
    """An order accepted seconds before Redis lost its data is queued again by the next
    sweep, without waiting for its lease or for `older_than`."""
    from fulfilment.recovery import orders_redrive_stuck
    from orders.services import order_create_b2b

    bundles_create()
    vendor, _ = vendor_with_key()
    fund(vendor, 100_000)
    with mock.patch("fulfilment.tasks.order_provision.delay"):
        order = order_create_b2b(vendor=vendor, bundle_code=BUNDLE_CODE, quantity=1)
    queued: list[int] = []
    with (
        mock.patch("fulfilment.tasks.order_provision.delay", side_effect=queued.append),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert orders_redrive_stuck().redriven == []  # its task is queued
        restarted = timezone.now() + timedelta(seconds=1)
        with (
            time_machine.travel(restarted + timedelta(seconds=5)),
            mock.patch("fulfilment.recovery.queues_epoch", return_value=restarted),
        ):
            assert orders_redrive_stuck().redriven == [order.pk]
            assert orders_redrive_stuck().redriven == []  # queued again once
    assert queued == [order.pk]
