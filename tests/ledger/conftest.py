from __future__ import annotations

import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _balanced_check_immediate(request: pytest.FixtureRequest) -> None:
    """Test transactions are rolled back, never committed, so the deferred "transaction
    balances" trigger would never run in them; make it check after every statement."""
    marker = request.node.get_closest_marker("django_db")
    if connection.vendor != "postgresql" or marker is None or marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("db")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ledger_entry_balanced IMMEDIATE")
