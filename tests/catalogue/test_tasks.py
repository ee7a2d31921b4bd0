from __future__ import annotations

from unittest import mock

import pytest

pytestmark = pytest.mark.django_db


def test_every_periodic_esims_job_is_a_registered_task(settings):
    from config.celery import app

    app.loader.import_default_modules()
    names = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    ours = {n for n in names if n.startswith("catalogue.tasks.")}
    assert ours == {"catalogue.tasks.catalogue_sync"}
    assert names <= set(app.tasks)


def test_usage_refresh_job_calls_the_service():
    from orders import tasks as order_tasks

    with mock.patch("orders.esim_services.esims_usage_refresh_due", return_value=7) as service:
        assert order_tasks.esims_usage_refresh.delay().get() == 7
    service.assert_called_once_with()
    assert order_tasks.esims_usage_refresh() == 0  # nothing live to refresh


# The names the catalogue's tasks had while the app was called esims (catalogue/tasks.py).
RENAMED = {
    "esims.tasks.catalogue_sync": "catalogue.tasks.catalogue_sync",
    "esims.tasks.catalogue_reprice": "catalogue.tasks.catalogue_reprice",
}


def test_the_old_task_names_are_registered_with_the_same_options_and_queue(settings):
    from config.celery import app

    app.loader.import_default_modules()
    routes = settings.CELERY_TASK_ROUTES
    for old, new in RENAMED.items():
        alias, task = app.tasks[old], app.tasks[new]
        assert routes[old] == routes[new] == {"queue": "maintenance"}
        for option in ("ignore_result", "autoretry_for", "retry_backoff", "max_retries"):
            assert getattr(alias, option, None) == getattr(task, option, None), (old, option)
    # Beat sends the new name only.
    assert not {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()} & set(RENAMED)


def test_a_message_under_the_old_sync_name_syncs_the_catalogue():
    from catalogue.models import Bundle
    from config.celery import app

    app.loader.import_default_modules()
    result = app.tasks["esims.tasks.catalogue_sync"].apply().get()
    assert result["created"] == Bundle.objects.count() >= 150
    assert app.tasks["esims.tasks.catalogue_reprice"].apply().get() == 0  # nothing changed


def test_an_outbox_row_left_under_the_old_name_is_sent_and_runs():
    from datetime import timedelta

    from catalogue.models import Bundle
    from ttelgo.models import OutboxMessage
    from ttelgo.outbox import outbox_relay

    OutboxMessage.objects.create(task="esims.tasks.catalogue_sync", args=[])
    assert outbox_relay(grace=timedelta(0)) == 1
    assert Bundle.objects.count() >= 150
    assert not OutboxMessage.objects.exists()
