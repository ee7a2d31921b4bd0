from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest

from tests.payments.factories import OrderFactory


@pytest.fixture
def order(db):
    return OrderFactory()


@pytest.fixture
def provision_delay() -> Iterator[mock.MagicMock]:
    """Provisioning is the orders app's; here we only see that the order was handed to it."""
    with mock.patch("fulfilment.tasks.order_provision.delay") as delay:
        yield delay
