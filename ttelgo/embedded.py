"""Scheduled jobs for the embedded default (`make run`): no broker, no beat.

There Celery runs tasks eagerly in the caller, so nothing would ever run the beat schedule
(`CELERY_BEAT_SCHEDULE`): provider orders that complete later would stay provisioning
with funds held, webhook retries, invoice closing and usage alerts would never fire.
`EmbeddedBeat` runs that same schedule in a thread of the web process, each job at its
interval, eagerly, like a worker would. Eager Celery runs every task where it is sent,
whatever its queue (ttelgo/queues.py), so this one process consumes every queue:
provisioning, webhooks, test, maintenance and recovery. Production runs `celery beat`
and one worker per pool instead (`docker-compose.yml`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections

from ttelgo.outbox import task_resolve

logger = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    task: str
    every: float
    args: tuple[Any, ...]
    due: float


class EmbeddedBeat:
    def __init__(
        self,
        schedule: Mapping[str, Mapping[str, Any]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        now = clock()
        self.jobs: list[Job] = []
        for name, entry in schedule.items():
            every = entry["schedule"]
            if not isinstance(every, int | float):  # crontab entries need celery beat
                logger.warning("embedded beat: %s has a non-interval schedule; skipped", name)
                continue
            args = tuple(entry.get("args", ()))
            # First run one interval from now, as celery beat does.
            self.jobs.append(Job(name, entry["task"], float(every), args, now + float(every)))

    def tick(self) -> list[str]:
        """Run every job that is due; the names of those run. A job that fails is logged
        and tried again at its next interval."""
        ran = []
        for job in self.jobs:
            now = self.clock()
            if now < job.due:
                continue
            job.due = now + job.every
            try:
                task_resolve(job.task).apply(args=job.args, throw=True)
            except Exception:
                logger.exception("embedded beat: %s failed", job.name)
            ran.append(job.name)
        return ran

    def run(self, stop: threading.Event, *, idle: float = 1.0) -> None:
        while not stop.is_set():
            close_old_connections()  # this thread's own connection, as a worker does
            self.tick()
            stop.wait(idle)

    def start(self) -> threading.Event:
        """Run in a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="embedded-beat", daemon=True).start()
        return stop
