"""The catalogue's tasks under the names they had while the app was called esims
(`esims.tasks.*`, catalogue/tasks.py): registered with the same options and queue, run
eagerly, from an outbox row left behind, and by a real Celery worker from the broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from celery import current_app
from celery.exceptions import AlwaysEagerIgnored
from celery.utils import worker_direct
from django.conf import settings
from django.db import connection

from catalogue.models import Bundle
from config.celery import app
from ttelgo.liveness import worker_answers
from ttelgo.models import OutboxMessage
from ttelgo.outbox import outbox_relay

RENAMED = {
    "esims.tasks.catalogue_sync": "catalogue.tasks.catalogue_sync",
    "esims.tasks.catalogue_reprice": "catalogue.tasks.catalogue_reprice",
}


def test_the_old_task_names_are_registered_with_the_same_options_and_queue(settings):
    app.loader.import_default_modules()
    routes = settings.CELERY_TASK_ROUTES
    for old, new in RENAMED.items():
        alias, task = app.tasks[old], app.tasks[new]
        assert routes[old] == routes[new] == {"queue": "maintenance"}
        for option in ("ignore_result", "autoretry_for", "retry_backoff", "max_retries"):
            assert getattr(alias, option, None) == getattr(task, option, None), (old, option)
    # Beat sends the new name only.
    assert not {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()} & set(RENAMED)


@pytest.mark.django_db
def test_a_message_under_the_old_sync_name_syncs_the_catalogue():
    app.loader.import_default_modules()
    result = app.tasks["esims.tasks.catalogue_sync"].apply().get()
    assert result["created"] == Bundle.objects.count() >= 150
    assert app.tasks["esims.tasks.catalogue_reprice"].apply().get() == 0  # nothing changed


@pytest.mark.django_db
def test_an_outbox_row_left_under_the_old_name_is_sent_and_runs():
    OutboxMessage.objects.create(task="esims.tasks.catalogue_sync", args=[])
    assert outbox_relay(grace=timedelta(0)) == 1
    assert Bundle.objects.count() >= 150
    assert not OutboxMessage.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis"), reason="needs the suite's Redis"
)
def test_a_worker_runs_a_sync_queued_under_the_old_name(settings):
    db = connection.settings_dict
    nodename = f"catalogue-{uuid.uuid4().hex[:8]}@test"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONPATH": str(Path(settings.BASE_DIR)),
        # The worker works on this test's database.
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", nodename,
         "--pool=solo", "--loglevel=WARNING", "--without-heartbeat", "--without-mingle",
         "--without-gossip"],
        env=env, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert worker_answers(nodename, timeout=30), "the worker never started"
        assert not Bundle.objects.exists()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AlwaysEagerIgnored)
            # By name, as an older release sent it: no task object of that name is needed.
            current_app.send_task("esims.tasks.catalogue_sync", queue=worker_direct(nodename))
        deadline = time.monotonic() + 60
        while Bundle.objects.count() < 150:
            assert time.monotonic() < deadline, "the worker never ran the old name"
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
