"""Reconciliation covers every provider: a planted mismatch is found at each one."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest

from orders.models import Order
from providers import EsimInstall, ProviderOrder
from reconciliation import services as reconciliation_services
from reconciliation.services import reconciliation_run
from sandbox.provider import SandboxProvider
from tests.console.factories import order_row

pytestmark = pytest.mark.django_db


class AiraloBooks:
    name = "airalo"

    def __init__(self, orders: list[ProviderOrder]) -> None:
        self.orders = orders

    def list_orders(self, *, created_from, created_to=None) -> list[ProviderOrder]:
        return self.orders


def test_a_mismatch_is_found_at_each_provider(bundles, settings):
    settings.ESIM_PROVIDERS = ["sandbox", "airalo"]
    # at the sandbox: an order nobody placed
    SandboxProvider().create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=1, reference="stray")
    # at Airalo: one order of ours it delivered, one we never placed; and one of ours it lacks
    ours = order_row(status=Order.Status.COMPLETED, provider="airalo", provider_reference="501")
    missing = order_row(status=Order.Status.COMPLETED, provider="airalo", provider_reference="777")
    books = AiraloBooks(
        [
            ProviderOrder(
                "501",
                "completed",
                "change-7days-1gb",
                0,
                [],
                None,
                f"ttelgo-order-{ours.pk}",
                datetime.now(UTC),
            ),
            ProviderOrder(
                "900",
                "completed",
                "change-7days-1gb",
                1,
                [EsimInstall("1", "m", "lpa")],
                None,
                "someone-else",
                datetime.now(UTC),
            ),
        ]
    )
    real = reconciliation_services.get_provider

    def get_provider(livemode: bool = True, name: str | None = None):
        return books if name == "airalo" else real(livemode)

    with mock.patch.object(reconciliation_services, "get_provider", get_provider):
        run = reconciliation_run()
    found = {(f.code, f.object_id) for f in run.findings.filter(category="provider")}
    assert ("provider_order_unknown", "airalo:900") in found
    assert ("esim_missing_at_provider", str(missing.pk)) in found
    assert any(
        code == "provider_order_unknown" and not oid.startswith("airalo:") for code, oid in found
    )
    assert ("esim_missing_at_provider", str(ours.pk)) not in found
    # Airalo's completed orders are not counted against the sandbox's books
    sandbox_missing = [oid for code, oid in found if code == "esim_missing_at_provider"]
    assert sandbox_missing == [str(missing.pk)]
