"""Worker liveness: does a given Celery worker still take tasks off the broker?

A worker can stay connected and yet stop consuming (seen after a broker outage followed by
a database restart). Pinging it over the control channel does not prove that it runs
tasks, so the probe sends a real task to the worker's own queue (`worker_direct`: every
worker also consumes `<nodename>.dq`) and waits for it to have run. `manage.py
worker_alive` wraps this for a container's health check; an orchestrator restarts a
worker that fails it, and acks-late, the outbox and the re-drive make the restart lose
nothing.
"""

from __future__ import annotations

import secrets
import time
import warnings

from celery import current_app
from celery.exceptions import AlwaysEagerIgnored
from celery.utils import worker_direct
from django.core.cache import cache

PROBE_TASK = "ttelgo.tasks.worker_probe"


def probe_key(token: str) -> str:
    return f"worker-probe:{token}"


def probe_answer(token: str) -> None:
    """Run by the probe task inside the worker."""
    cache.set(probe_key(token), 1, timeout=600)


def worker_answers(nodename: str, *, timeout: float, poll: float = 0.2) -> bool:
    """True when the worker `nodename` ran a probe task within `timeout` seconds. A worker
    busy with long tasks in every process answers late: give it the task time limit."""
    token = secrets.token_urlsafe(16)
    with warnings.catch_warnings():  # the probe goes to the broker even in eager setups
        warnings.simplefilter("ignore", AlwaysEagerIgnored)
        current_app.send_task(
            PROBE_TASK, args=[token], queue=worker_direct(nodename), expires=timeout
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cache.get(probe_key(token)):
            cache.delete(probe_key(token))
            return True
        time.sleep(poll)
    return False
