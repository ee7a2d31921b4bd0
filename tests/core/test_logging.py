"""JSON logs keep what an operator needs to debug: the traceback of a logged exception."""

import io
import json
import logging
import logging.config

import pytest
import structlog
from django.conf import settings

from ttelgo.logging import build_logging_config


@pytest.fixture
def json_stream():
    stream = io.StringIO()
    config = build_logging_config(level="INFO", fmt="json")
    logging.config.dictConfig(config)
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)
    yield stream
    logging.config.dictConfig(settings.LOGGING)


def _records(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _boom():
    raise ValueError("provider said no")


def test_a_stdlib_logger_exception_carries_its_traceback_in_json(json_stream):
    try:
        _boom()
    except ValueError:
        logging.getLogger("celery.app.trace").exception("task failed")
    (record,) = _records(json_stream)
    assert record["event"] == "task failed"
    assert record["level"] == "error"
    assert "Traceback (most recent call last)" in record["exception"]
    assert "ValueError: provider said no" in record["exception"]
    assert "_boom" in record["exception"]


def test_a_structlog_exception_carries_its_traceback_in_json(json_stream):
    try:
        _boom()
    except ValueError:
        structlog.get_logger("orders").exception("provisioning failed", order_id=7)
    (record,) = _records(json_stream)
    assert record["order_id"] == 7
    assert "ValueError: provider said no" in record["exception"]


def test_a_stdlib_loggers_extra_fields_reach_the_json(json_stream):
    logging.getLogger("billing.invoicing").warning(
        "invoice close failed", extra={"vendor_id": 42, "period": "2026-09"}
    )
    (record,) = _records(json_stream)
    assert (record["vendor_id"], record["period"]) == (42, "2026-09")
    assert record["event"] == "invoice close failed"
