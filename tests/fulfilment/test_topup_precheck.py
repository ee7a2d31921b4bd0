"""The top-up's compatibility question goes to the provider outside any database
transaction (an HTTP call must not hold row locks or a connection in a transaction)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection

from fulfilment.models import Esim
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


def test_a_customer_order_and_its_cancel_ask_the_gateway_outside_a_transaction():
    """The PaymentIntent is created after the order commits, and cancelled after the
    order's cancel commits; a gateway failure cancels the order it could not pay."""
    from orders.models import Order
    from sandbox.gateway import SandboxGateway
    from tests.factories import UserFactory
    from tests.orders.factories import BUNDLE_CODE, customer_client
    from ttelgo.errors import DomainError

    bundles_create()
    api = customer_client(UserFactory())
    seen: list[bool] = []
    create, cancel = SandboxGateway.create_payment_intent, SandboxGateway.cancel_payment_intent

    def spy(real):
        def call(self, *args, **kwargs):
            seen.append(connection.in_atomic_block)
            return real(self, *args, **kwargs)

        return call

    with (
        mock.patch.object(SandboxGateway, "create_payment_intent", spy(create)),
        mock.patch.object(SandboxGateway, "cancel_payment_intent", spy(cancel)),
    ):
        created = api.post(
            "/api/v1/orders",
            {"bundle_code": BUNDLE_CODE, "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY="gw-1",
        )
        assert created.status_code == 201, created.content
        cancelled = api.post(f"/api/v1/orders/{created.json()['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert seen == [False, False]

    def down(**_kwargs):
        raise DomainError("payment_provider_error", "The payment provider is unreachable.")

    with mock.patch("orders.services.payment_create_for_order", side_effect=down):
        failed = api.post(
            "/api/v1/orders",
            {"bundle_code": BUNDLE_CODE, "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY="gw-2",
        )
    assert failed.status_code == 502, failed.content
    assert Order.objects.order_by("-id").first().status == "cancelled"


def test_wallet_top_ups_and_auto_top_up_rules_ask_outside_a_transaction():
    """The vendor's PaymentIntent (Stripe) and the auto top-up rule's compatibility
    question (the provider) are not asked while the request holds a transaction."""
    from fulfilment.models import Esim
    from sandbox.gateway import SandboxGateway
    from tests.orders.factories import TOPUP_CODE

    bundles_create()
    vendor = VendorFactory(status="active", currency="USD")
    fund(vendor, 10_000)
    order = order_row(channel="b2b", vendor=vendor)
    Esim.objects.create(
        order=order, iccid="8944000000000000009", bundle_code="x",
        smdp_address="rsp.example", matching_id="M",
    )  # fmt: skip
    api = vendor_client(vendor)
    seen: list[bool] = []
    real = SandboxGateway.create_payment_intent

    def spy(self, **kwargs):
        seen.append(connection.in_atomic_block)
        return real(self, **kwargs)

    def compatible(**_kwargs):
        seen.append(connection.in_atomic_block)
        return True

    with (
        mock.patch.object(SandboxGateway, "create_payment_intent", spy),
        mock.patch("sandbox.provider.SandboxProvider.bundle_compatible", side_effect=compatible),
    ):
        topup = api.post(
            "/api/v1/vendor/wallet/topups",
            {"amount": {"amount": "25.00", "currency": "USD"}},
            format="json",
            HTTP_IDEMPOTENCY_KEY="w-1",
        )
        assert topup.status_code == 201, topup.content
        rule = api.post(
            "/api/v1/vendor/auto-topups",
            {"iccid": "8944000000000000009", "bundle_code": TOPUP_CODE, "below_percent": 20},
            format="json",
            HTTP_IDEMPOTENCY_KEY="r-1",
        )
        assert rule.status_code == 201, rule.content
    assert seen == [False, False]
