"""Migration 0003 copies each existing delivery's vendor from its endpoint."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import VendorFactory

BEFORE = [("webhooks", "0002_webhookdelivery_historicalwebhookendpoint_and_more")]
AFTER = [("webhooks", "0003_webhookdelivery_vendor")]


@pytest.mark.django_db(transaction=True)
def test_existing_deliveries_get_their_endpoints_vendor():
    vendors = [VendorFactory(), VendorFactory()]
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        endpoint_model = old.get_model("webhooks", "WebhookEndpoint")
        event_model = old.get_model("webhooks", "WebhookEvent")
        delivery_model = old.get_model("webhooks", "WebhookDelivery")
        made = []
        for i, vendor in enumerate(vendors):
            endpoint = endpoint_model.objects.create(
                vendor_id=vendor.pk, url="https://93.184.215.14/h", secret_encrypted="x"
            )
            event = event_model.objects.create(
                vendor_id=vendor.pk, public_id=f"msg_{i}", type="order.completed",
                created_at=timezone.now(),
            )  # fmt: skip
            made.append((delivery_model.objects.create(event=event, endpoint=endpoint).pk, vendor))
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
    try:
        new = executor.loader.project_state(AFTER).apps.get_model("webhooks", "WebhookDelivery")
        for pk, vendor in made:
            assert new.objects.get(pk=pk).vendor_id == vendor.pk
    finally:
        # Leave the schema as every later test expects it: all migrations applied.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
