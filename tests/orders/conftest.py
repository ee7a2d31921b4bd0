from __future__ import annotations

import pytest
from django.db import connection

from sandbox.provider import sandbox_faults_reset
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import bundles_create, credit_line, customer_client, fund, vendor_client
from vendors.models import Vendor


@pytest.fixture(autouse=True)
def _sandbox_clean():
    sandbox_faults_reset()
    yield
    sandbox_faults_reset()


@pytest.fixture(autouse=True)
def _balanced_check_immediate(request: pytest.FixtureRequest) -> None:
    """Test transactions roll back instead of committing, so the ledger's deferred
    "transaction balances" trigger would never fire; check after every statement instead."""
    marker = request.node.get_closest_marker("django_db")
    if connection.vendor != "postgresql" or marker is None or marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("db")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ledger_entry_balanced IMMEDIATE")


@pytest.fixture
def bundles(db):
    return bundles_create()


@pytest.fixture
def customer(db):
    return customer_client(UserFactory())


@pytest.fixture
def other_customer(db):
    return customer_client(UserFactory())


@pytest.fixture
def prepaid_vendor(db):
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    return vendor_client(vendor)


@pytest.fixture
def postpaid_vendor(db):
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.POSTPAID, currency="USD")
    credit_line(vendor, 100_000)
    return vendor_client(vendor)


@pytest.fixture
def other_vendor(db):
    vendor = VendorFactory(billing_mode=Vendor.BillingMode.PREPAID, currency="USD")
    fund(vendor, 100_000)
    return vendor_client(vendor)
