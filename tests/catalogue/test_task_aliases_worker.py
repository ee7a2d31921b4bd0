"""A message queued in the broker under a catalogue task's old name (`esims.tasks.*`, as a
deploy may find it) is consumed and run by a real Celery worker of this release."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import pytest
from celery import current_app
from celery.exceptions import AlwaysEagerIgnored
from celery.utils import worker_direct
from django.conf import settings
from django.db import connection

from catalogue.models import Bundle
from ttelgo.liveness import worker_answers

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith("redis"), reason="needs the suite's Redis"
    ),
]


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
