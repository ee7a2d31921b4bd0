"""`make run` stays readable: the frequent scheduled jobs that found nothing to do log
nothing at INFO or above (161 INFO lines in 15 minutes buried the start-up banner)."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings

from ttelgo.embedded import EmbeddedBeat

pytestmark = pytest.mark.django_db

# Jobs that run every minute or more often.
FREQUENT = {
    name: entry
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
    if isinstance(entry["schedule"], int | float) and entry["schedule"] <= 60
}


def test_frequent_jobs_with_nothing_to_do_log_below_info(caplog):
    assert "outbox-relay" in FREQUENT
    clock = [0.0]
    beat = EmbeddedBeat(FREQUENT, clock=lambda: clock[0])
    clock[0] = 10_000.0
    caplog.set_level(logging.DEBUG)
    ran = beat.tick()
    assert set(ran) == set(FREQUENT)
    loud = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO]
    assert loud == []


@pytest.mark.parametrize(
    ("result", "idle"),
    [
        ("0", True),
        ("None", True),
        ("{'released': 0, 'redriven': 0, 'escalated': 0}", True),
        ("[]", True),
        ("3", False),
        ("{'released': 0, 'redriven': 2}", False),
        ("<Order 12>", False),
    ],
)
def test_a_task_that_did_work_still_logs_at_info(result, idle):
    from ttelgo.logging import IdleTaskFilter

    record = logging.LogRecord(
        "celery.app.trace",
        logging.INFO,
        __file__,
        1,
        "Task %(name)s: %(return_value)s",
        None,
        None,
    )
    record.args = {"name": "t", "return_value": result}
    kept = IdleTaskFilter().filter(record)
    assert (record.levelno == logging.DEBUG) is idle
    if not idle:
        assert kept
