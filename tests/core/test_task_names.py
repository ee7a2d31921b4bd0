"""Task names are the dotted path of the module that defines them; a renamed task keeps
its old name as an alias (same function, same queue) until messages queued under it
have drained (settings.TASK_NAME_ALIASES)."""

from __future__ import annotations

import inspect
from typing import Any
from unittest import mock

import pytest
from celery import current_app
from django.conf import settings
from django.db import transaction

from tests.core.test_queues import PROJECT_APPS
from ttelgo.models import OutboxMessage
from ttelgo.outbox import task_enqueue


def _project_tasks() -> dict[str, object]:
    current_app.loader.import_default_modules()
    return {
        name: task
        for name, task in current_app.tasks.items()
        if task.__module__.split(".")[0] in PROJECT_APPS
    }


def test_every_task_is_named_after_the_module_that_defines_it():
    tasks = _project_tasks()
    assert len(tasks) >= 30
    wrong = sorted(
        f"{name} (defined in {task.__module__})"
        for name, task in tasks.items()
        if name not in settings.TASK_NAME_ALIASES and not name.startswith(f"{task.__module__}.")
    )
    assert wrong == [], "name each task after its module's dotted path"


def _function(task: Any) -> Any:
    """The function a task runs, through Celery's wrappers (a bound task's `run` wraps a
    method of its own task object)."""
    function = inspect.unwrap(task.run)
    while True:
        function = getattr(function, "__func__", function)
        unwrapped = inspect.unwrap(function)
        if unwrapped is function:
            return function
        function = unwrapped


def test_each_old_name_is_the_same_task_routed_to_the_same_queue():
    tasks = current_app.tasks
    current_app.loader.import_default_modules()
    routes = settings.CELERY_TASK_ROUTES
    for old, new in settings.TASK_NAME_ALIASES.items():
        assert old in tasks and new in tasks
        assert _function(tasks[old]) is _function(tasks[new])
        assert tasks[old].acks_late == tasks[new].acks_late
        assert routes[old] == routes[new]


@pytest.mark.django_db
def test_an_outbox_row_under_the_old_callback_name_still_runs(django_capture_on_commit_callbacks):
    with (
        mock.patch("webhooks.esimgo.esimgo_event_process") as process,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        task_enqueue("orders.tasks.esim_callback_process", 41)
    process.assert_called_once_with(event_pk=41)
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_message_under_the_old_low_balance_name_still_runs():
    from tests.vendors.factories import VendorFactory

    vendor = VendorFactory()
    with mock.patch("billing.tasks.low_balance_check") as check:
        current_app.tasks["vendors.tasks.vendor_low_balance_check"].apply(args=(vendor.pk,))
    assert check.call_count == 1
    assert check.call_args.kwargs["vendor"].pk == vendor.pk
