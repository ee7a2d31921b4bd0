"""The worker liveness probe against a real Celery worker on the suite's Redis."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from ttelgo.liveness import worker_answers

pytestmark = pytest.mark.skipif(
    not settings.CELERY_BROKER_URL.startswith("redis"), reason="needs the suite's Redis"
)


@pytest.fixture
def worker():
    nodename = f"probe-{uuid.uuid4().hex[:8]}@test"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONPATH": str(Path(settings.BASE_DIR)),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-n",
            nodename,
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert worker_answers(nodename, timeout=30), "the worker never started taking tasks"
        yield proc, nodename
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait(timeout=10)


def test_a_worker_that_takes_tasks_passes_the_probe(worker):
    _proc, nodename = worker
    call_command("worker_alive", nodename=nodename, timeout=10)


def test_a_frozen_worker_fails_the_probe(worker):
    proc, nodename = worker
    os.kill(proc.pid, signal.SIGSTOP)  # connected to the broker, taking nothing
    with pytest.raises(CommandError, match="ran no probe task within 2s"):
        call_command("worker_alive", nodename=nodename, timeout=2)
    os.kill(proc.pid, signal.SIGCONT)
    assert worker_answers(nodename, timeout=10)


def test_no_worker_of_that_name_fails_the_probe():
    with pytest.raises(CommandError):
        call_command("worker_alive", nodename="nobody@nowhere", timeout=1)
