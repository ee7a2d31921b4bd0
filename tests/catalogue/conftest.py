from __future__ import annotations

import pytest

from catalogue.services import catalogue_sync
from sandbox.provider import sandbox_faults_reset


@pytest.fixture(autouse=True)
def _no_sandbox_faults():
    sandbox_faults_reset()
    yield
    sandbox_faults_reset()


@pytest.fixture
def synced_catalogue(db, django_capture_on_commit_callbacks):
    """The full sandbox catalogue, synced the way production does it."""
    with django_capture_on_commit_callbacks(execute=True):
        return catalogue_sync()
