import pytest

from tests.orders.factories import bundles_create


@pytest.fixture
def bundles(db):
    return bundles_create()
