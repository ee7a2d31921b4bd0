from __future__ import annotations

from unittest import mock

import pytest

pytestmark = pytest.mark.django_db


def test_every_periodic_esims_job_is_a_registered_task(settings):
    from config.celery import app

    app.loader.import_default_modules()
    names = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    ours = {n for n in names if n.startswith("catalogue.tasks.")}
    assert ours == {"catalogue.tasks.catalogue_sync"}
    assert names <= set(app.tasks)


def test_usage_refresh_job_calls_the_service():
    from fulfilment import tasks as order_tasks

    with mock.patch("fulfilment.services.esims_usage_refresh_due", return_value=7) as service:
        assert order_tasks.esims_usage_refresh.delay().get() == 7
    service.assert_called_once_with()
    assert order_tasks.esims_usage_refresh() == 0  # nothing live to refresh
