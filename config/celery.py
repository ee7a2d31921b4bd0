"""The Celery app. Tasks stay thin: they take ids and call a service."""

import os

from celery import Celery
from celery.signals import setup_logging

from ttelgo.task_base import ResilientTask

# The same default as the web process (config/wsgi.py): a worker started without
# DJANGO_SETTINGS_MODULE runs with production's checks (and its SSRF guard), never with
# the permissive local settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")


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
