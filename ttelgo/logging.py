"""Structured logs (structlog) for Django and Celery, one JSON object per line."""

import ast
import logging
from typing import Any

import structlog


def build_logging_config(*, level: str, fmt: str) -> dict[str, Any]:
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        # `logger.info(..., extra={...})` from a stdlib logger keeps its fields.
        structlog.stdlib.ExtraAdder(),
    ]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.filter_by_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.add_logger_name,
            structlog.stdlib.add_log_level,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    renderer: Any
    # The console renderer prints `exc_info` itself; JSON needs it turned into text, or a
    # stdlib logger's `.exception()` (Django, Celery) would lose its traceback.
    formatting: list[Any] = []
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        formatting = [structlog.processors.format_exc_info]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *formatting,
                    renderer,
                ],
                "foreign_pre_chain": shared,
            },
        },
        "filters": {"idle_tasks": {"()": IdleTaskFilter}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.server": {"level": "WARNING"},
            "django_structlog": {"level": level},
            # Beat's frequent jobs (the outbox relay every 5 s) that did nothing: DEBUG.
            "celery.app.trace": {"filters": ["idle_tasks"]},
        },
    }


def _idle(value: Any) -> bool:
    """Whether a task's result says it did nothing: 0, None, empty, or a mapping or list
    of such (`{'released': 0, 'redriven': 0}`)."""
    if isinstance(value, dict):
        return all(_idle(v) for v in value.values())
    if isinstance(value, list | tuple | set):
        return all(_idle(v) for v in value)
    return not value


class IdleTaskFilter(logging.Filter):
    """Celery logs every task that succeeded at INFO; one whose result says it did nothing
    (a scheduled job that found no work) is logged at DEBUG instead, so `make run` and the
    workers' logs show what happened, not the outbox relay's empty rounds."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = record.args if isinstance(record.args, dict) else None
        if not context or "return_value" not in context:
            return True
        try:
            value = ast.literal_eval(str(context["return_value"]))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return True  # not a plain literal (or cut short): something was done
        if not _idle(value):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
