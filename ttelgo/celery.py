"""The Celery app. Tasks stay thin: they take ids and call a service."""

import os

from celery import Celery, Task
from celery.signals import setup_logging

from ttelgo.transient import DATABASE_FAULTS

# The same default as the web process (ttelgo/wsgi.py): a worker started without
# DJANGO_SETTINGS_MODULE runs with production's checks (and its SSRF guard), never with
# the permissive local settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ttelgo.settings.production")


class ResilientTask(Task):  # type: ignore[misc]
    """Every task's base: a database fault (the database restarting, a lost deadlock or
    serialization conflict) retries the task at once with jittered backoff instead of
    failing it and leaving the work to a re-drive job. Tasks take ids and re-check state,
    so running one again is safe. A task that names its own `autoretry_for` adds these."""

    autoretry_for = DATABASE_FAULTS
    retry_backoff = 1
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 10


app = Celery("ttelgo", task_cls=ResilientTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(**_kwargs: object) -> None:
    # Keep Celery from replacing our structlog handlers with its own.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


try:  # carries the request id of the enqueuing request into the worker's logs
    from django_structlog.celery.steps import DjangoStructLogInitStep

    app.steps["worker"].add(DjangoStructLogInitStep)
except ImportError:  # pragma: no cover
    pass
