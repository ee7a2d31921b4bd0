"""The top-up's compatibility question goes to the provider outside any database
transaction (an HTTP call must not hold row locks or a connection in a transaction)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection

from orders.esim_records import Esim
from tests.console.factories import order_row
from tests.factories import VendorFactory
from tests.orders.factories import TOPUP_CODE, bundles_create, fund, vendor_client

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_compatibility_check_runs_outside_a_transaction():
    bundles_create()
    vendor = VendorFactory(status="active")
    fund(vendor, 10_000)
    order = order_row(channel="b2b", vendor=vendor)
    Esim.objects.create(
        order=order, iccid="8944000000000000007", bundle_code="x",
        smdp_address="rsp.example", matching_id="M",
    )  # fmt: skip
    seen = []

    def compatible(**_kwargs):
        seen.append(connection.in_atomic_block)
        return False

    with mock.patch("sandbox.provider.SandboxProvider.bundle_compatible", side_effect=compatible):
        response = vendor_client(vendor).post(
            "/api/v1/vendor/esims/8944000000000000007/topups",
            {"bundle_code": TOPUP_CODE},
            format="json",
            HTTP_IDEMPOTENCY_KEY="pre-1",
        )
    assert response.status_code == 409
    assert seen == [False]
