"""`manage.py runembedded [addrport]`: the development server plus the beat schedule run
in-process (ttelgo/embedded.py), for the embedded default where there is no broker."""

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ttelgo.embedded import EmbeddedBeat
from ttelgo.queues import QUEUES


class Command(BaseCommand):
    help = "Serve with runserver and run the scheduled jobs in this process (no broker)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError(
                "A broker is configured: run a `celery -A config worker -Q <queue>` per "
                f"queue ({', '.join(QUEUES)}) and `celery -A config beat` instead of the "
                "in-process schedule."
            )
        beat = EmbeddedBeat(settings.CELERY_BEAT_SCHEDULE)
        beat.start()
        self.stdout.write(
            f"Scheduled jobs run in this process ({len(beat.jobs)}): "
            + ", ".join(f"{job.name} every {job.every:g}s" for job in beat.jobs)
            + f"; tasks of every queue ({', '.join(QUEUES)}) run where they are sent."
        )
        # No autoreloader: it would start a second process, and a second schedule.
        call_command("runserver", options["addrport"], use_reloader=False)
