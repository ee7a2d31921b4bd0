"""The outbox: a task a committed change asked for reaches the broker, even if the broker
was away at commit time; a rolled-back change sends nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from orders.models import Order
from tests.factories import VendorFactory
from tests.orders.factories import BUNDLE_CODE, bundles_create, fund, vendor_client
from ttelgo.models import OutboxMessage
from ttelgo.outbox import outbox_relay, task_enqueue

pytestmark = pytest.mark.django_db(transaction=True)

PROVISION = "fulfilment.tasks.order_provision.delay"


def _order(client) -> dict:
    response = client.post(
        "/api/v1/vendor/orders",
        {"bundle_code": BUNDLE_CODE, "quantity": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def vendor():
    bundles_create()
    vendor = VendorFactory(currency="USD")
    fund(vendor, 100_000)
    return vendor_client(vendor)


def test_a_task_sent_at_commit_leaves_no_outbox_row(vendor):
    with mock.patch(PROVISION) as delay:
        order = _order(vendor)
    delay.assert_called_once_with(order["id"])
    assert OutboxMessage.objects.count() == 0


def test_an_order_accepted_while_the_broker_is_down_is_sent_when_it_is_back(vendor):
    with mock.patch(PROVISION, side_effect=KombuOperationalError("Connection refused")):
        order = _order(vendor)  # accepted all the same: 201, not 500
    assert order["status"] == "provisioning"
    message = OutboxMessage.objects.get()
    assert (message.task, message.args) == ("fulfilment.tasks.order_provision", [order["id"]])

    assert outbox_relay() == 0  # too young: its own on-commit send may still be under way
    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        with mock.patch(PROVISION, side_effect=KombuOperationalError("still down")):
            assert outbox_relay() == 0
        assert OutboxMessage.objects.get().attempts == 1
        assert outbox_relay() == 1  # the broker is back: the (eager) task runs
    assert OutboxMessage.objects.count() == 0
    assert Order.objects.get(pk=order["id"]).status == "completed"


def test_a_rolled_back_change_sends_nothing():
    with (
        mock.patch("vendors.tasks.vendor_email_send.delay") as delay,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        task_enqueue("vendors.tasks.vendor_email_send", 1, "subject", "body")
        raise RuntimeError("the change failed")
    delay.assert_not_called()
    assert OutboxMessage.objects.count() == 0


def test_a_task_is_found_by_its_registered_name_even_after_it_moved_module(
    django_capture_on_commit_callbacks,
):
    """Rows queued under a task's old name still resolve after the task moved to another
    module and took that module's name (its alias keeps the old one): eSIM callback
    processing lives in webhooks."""
    from webhooks import tasks as webhook_tasks

    with (
        mock.patch.object(webhook_tasks.esim_callback_process_old_name, "delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        task_enqueue("orders.tasks.esim_callback_process", 41)
    delay.assert_called_once_with(41)
    assert not OutboxMessage.objects.exists()


def test_a_fresh_web_process_finds_tasks_it_has_not_imported_yet():
    """A gunicorn worker has imported no tasks module before its first send (two orders
    answered 500 `NotRegistered` in the chaos suite when only the registry was asked)."""
    import os
    import subprocess
    import sys

    code = (
        "import django; django.setup()\n"
        "from celery import current_app\n"
        "assert 'fulfilment.tasks.order_provision' not in current_app.tasks\n"
        "from ttelgo.outbox import task_resolve\n"
        "print(task_resolve('fulfilment.tasks.order_provision').name)\n"
        "print(task_resolve('orders.tasks.esim_callback_process').name)\n"
        "print(task_resolve('webhooks.tasks.esim_callback_process').name)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [
        "fulfilment.tasks.order_provision",
        "orders.tasks.esim_callback_process",
        "webhooks.tasks.esim_callback_process",
    ]
