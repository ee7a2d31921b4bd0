"""The Celery app. Tasks stay thin: they take ids and call a service."""

import os

from celery import Celery
from celery.signals import after_task_publish, setup_logging, worker_ready

from ttelgo.queues import PROVISIONING, TEST, WEBHOOKS, publish_log, queues_epoch_mark
from ttelgo.task_base import ResilientTask

# The same default as the web process (config/wsgi.py): a worker started without
# DJANGO_SETTINGS_MODULE runs with production's checks (and its SSRF guard), never with
# the permissive local settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
# Metrics of every worker process go to files there (prometheus-client multiprocess mode).
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


app = Celery("ttelgo", task_cls=ResilientTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(**_kwargs: object) -> None:
    # Keep Celery from replacing our structlog handlers with its own.
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@worker_ready.connect
def _queues_epoch_mark(**_kwargs: object) -> None:
    """A worker of a pool whose items carry queued markers started: tasks a killed one had
    reserved are queued again by the sweeps (ttelgo/queues.py) instead of waiting for the
    broker's visibility timeout."""
    consumed = set(app.amqp.queues.consume_from or {})
    if consumed & {PROVISIONING, WEBHOOKS, TEST}:
        queues_epoch_mark()


@after_task_publish.connect
def _publish_log(
    body: object = None, headers: dict | None = None, routing_key: str = "", **_kwargs: object
) -> None:
    if os.environ.get("TASKS_PUBLISH_LOG"):  # the chaos suite counts tasks queued per item
        publish_log(body=body, headers=headers or {}, routing_key=routing_key)


@worker_ready.connect
def _metrics_serve(**_kwargs: object) -> None:
    """With CELERY_METRICS_PORT set, the worker serves its processes' metrics (read from
    PROMETHEUS_MULTIPROC_DIR, which the worker's environment must set) on that port."""
    port = os.environ.get("CELERY_METRICS_PORT")
    if not port:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    start_http_server(int(port), registry=registry)


try:  # carries the request id of the enqueuing request into the worker's logs
    from django_structlog.celery.steps import DjangoStructLogInitStep

    app.steps["worker"].add(DjangoStructLogInitStep)
except ImportError:  # pragma: no cover
    pass
