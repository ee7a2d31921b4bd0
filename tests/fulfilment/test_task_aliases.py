"""The tasks that moved from orders to fulfilment keep their old names until the messages
queued under them drain: a deploy may find `orders.tasks.*` in the broker or the outbox.
Each old name is registered, runs the same function and goes to the same queue."""

from __future__ import annotations

from unittest import mock

import pytest
from django.conf import settings

from config.celery import app
from fulfilment import tasks
from ttelgo.outbox import task_enqueue, task_resolve

pytestmark = pytest.mark.django_db

MOVED = {
    "order_provision",
    "auto_topup_execute",
    "order_esims_email",
    "customer_email",
    "esim_lifecycle_email",
    "orders_redrive_stuck",
    "esims_usage_refresh",
    "esims_expiry_notify",
    "auto_topups_expiry_check",
    "orders_delivery_guarantee",
    "orders_late_deliveries_revoke",
    "provider_refunds_collect",
    "esim_refunds_resume",
}


def _old_names() -> dict[str, str]:
    """New name -> old name, for the tasks that moved from orders to fulfilment."""
    return {
        new: old
        for old, new in settings.TASK_NAME_ALIASES.items()
        if new.startswith("fulfilment.tasks.")
    }


def test_every_moved_task_keeps_its_old_name_with_the_same_function_and_queue():
    app.loader.import_default_modules()
    assert set(_old_names()) == {f"fulfilment.tasks.{n}" for n in MOVED}
    routes = settings.CELERY_TASK_ROUTES
    for new, old in _old_names().items():
        assert old == "orders.tasks." + new.rpartition(".")[2]
        assert old in app.tasks and new in app.tasks
        assert app.tasks[old].run.__code__ is app.tasks[new].run.__code__
        assert routes[old] == routes[new]
        for option in ("acks_late", "max_retries", "ignore_result", "autoretry_for"):
            assert getattr(app.tasks[old], option, None) == getattr(app.tasks[new], option, None)


def test_beat_names_the_new_tasks():
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert not names & set(_old_names().values())
    assert names <= set(app.tasks)


def test_a_message_queued_under_an_old_name_still_runs(django_capture_on_commit_callbacks):
    with mock.patch("fulfilment.services.esims_usage_refresh_due", return_value=3) as service:
        assert app.tasks["orders.tasks.esims_usage_refresh"].delay().get() == 3
        # An outbox row written before the deploy names the old task: it is sent and runs.
        with django_capture_on_commit_callbacks(execute=True):
            task_enqueue("orders.tasks.esims_usage_refresh")
    assert service.call_count == 2
    assert task_resolve("orders.tasks.order_provision").run.__code__ is (
        tasks.order_provision.run.__code__
    )
