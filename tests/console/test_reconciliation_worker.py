"""A reconciliation run on a real Celery worker that is killed mid-run: the run stops
making progress and the sweep marks it failed, so its page stops waiting and it can be
run again."""

from __future__ import annotations

import os
import signal
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

from reconciliation.models import ReconciliationRun
from reconciliation.services import reconciliation_start, runs_sweep_stale
from sandbox.provider import SandboxFaults, sandbox_faults_reset, sandbox_faults_set
from ttelgo.liveness import worker_answers

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith("redis"), reason="needs the suite's Redis"
    ),
]


def test_killing_the_worker_mid_run_leaves_a_run_the_sweep_marks_failed(settings):
    db = connection.settings_dict
    nodename = f"recon-{uuid.uuid4().hex[:8]}@test"
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
        # The provider check hangs (a slow provider): the worker is mid-run when it dies.
        sandbox_faults_set(SandboxFaults(latency=60))
        run = reconciliation_start(enqueue=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AlwaysEagerIgnored)
            current_app.send_task(
                "reconciliation.tasks.reconciliation_execute",
                args=[run.pk],
                queue=worker_direct(nodename),
            )
        deadline = time.monotonic() + 60
        while ReconciliationRun.objects.get(pk=run.pk).checks_done < 2:
            assert time.monotonic() < deadline, "the worker made no progress"
            time.sleep(0.2)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        sandbox_faults_reset()
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)

    run.refresh_from_db()
    assert run.status == ReconciliationRun.Status.RUNNING  # nobody will finish it
    settings.RECONCILIATION_STALE_SECONDS = 1
    time.sleep(1.5)
    assert runs_sweep_stale() == 1
    run.refresh_from_db()
    assert run.status == ReconciliationRun.Status.FAILED
    assert run.checks_done == 2 and run.finished_at is not None
    assert reconciliation_start(enqueue=False).pk != run.pk  # it can run again
