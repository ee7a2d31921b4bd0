"""`manage.py worker_alive`: exit 0 when the Celery worker takes tasks, 1 when it does not.

Used as the worker's health check (docker-compose, a Kubernetes livenessProbe)."""

import socket
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ttelgo.liveness import worker_answers


class Command(BaseCommand):
    help = "Send a probe task to one worker's own queue and wait for it to run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--nodename",
            default=f"celery@{socket.gethostname()}",
            help="the worker's node name (-n); default celery@<this host>",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            # A worker whose every process runs a long task answers once one finishes.
            default=settings.CELERY_TASK_TIME_LIMIT + 30,
            help="seconds to wait (default: the task time limit plus 30)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        nodename, timeout = options["nodename"], options["timeout"]
        if not worker_answers(nodename, timeout=timeout):
            raise CommandError(f"{nodename} ran no probe task within {timeout:g}s")
        self.stdout.write(f"{nodename} is taking tasks")
