"""The catalogue's models moved from the app `esims` to `catalogue` (esims 0005, catalogue
0001): state only, so every table keeps its name and its rows, and the content types are
relabelled, so permissions granted on the old models hold for the new ones."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("esims", "0004_sandbox_moves_out"), ("catalogue", None)]
AFTER = [("catalogue", "0001_from_esims")]
TABLES = {
    "esims_region",
    "esims_country",
    "esims_bundle",
    "esims_bundle_countries",
    "esims_pricerule",
    "esims_bundlepricehistory",
}


@pytest.mark.django_db(transaction=True)
def test_the_rows_and_permissions_of_the_esims_app_belong_to_the_catalogue_after_it():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE[:1]).apps
        region = old.get_model("esims", "Region").objects.create(code="europe", name="Europe")
        country = old.get_model("esims", "Country").objects.create(
            iso="FR", name="France", region=region
        )
        bundle = old.get_model("esims", "Bundle").objects.create(
            code="esim_1GB_7D_FR_V2", provider="sandbox", region=region, validity_days=7,
            cost_amount=150, retail_amount=299, currency="USD",
        )  # fmt: skip
        bundle.countries.add(country)
        rule = old.get_model("esims", "PriceRule").objects.create(
            scope="bundle", bundle=bundle, markup_bps=5000
        )
        old.get_model("esims", "BundlePriceHistory").objects.create(
            bundle=bundle, cost_amount=150, retail_amount=299, currency="USD", reason="sync"
        )
        # A permission on the old model, granted to a group (content types as the old
        # release left them: under `esims`).
        # (Only the models that release had: later ones never were under `esims`.)
        ContentType.objects.filter(
            app_label="catalogue",
            model__in=["region", "country", "bundle", "pricerule", "bundlepricehistory"],
        ).update(app_label="esims")
        permission = Permission.objects.get(
            content_type__app_label="esims", codename="change_pricerule"
        )
        group = Group.objects.create(name="pricing")
        group.permissions.add(permission)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
    try:
        # The models as that migration left them (later migrations add columns).
        after = MigrationExecutor(connection).loader.project_state(AFTER).apps
        Bundle = after.get_model("catalogue", "Bundle")
        BundlePriceHistory = after.get_model("catalogue", "BundlePriceHistory")
        PriceRule = after.get_model("catalogue", "PriceRule")

        moved = Bundle.objects.get(pk=bundle.pk)
        assert moved.region_id == region.pk
        assert list(moved.countries.values_list("iso", flat=True)) == ["FR"]
        assert PriceRule.objects.get(pk=rule.pk).bundle_id == bundle.pk
        assert BundlePriceHistory.objects.filter(bundle=moved).count() == 1
        # The tables kept their names; nothing was created under the new label.
        tables = set(connection.introspection.table_names())
        assert tables >= TABLES
        assert not {t for t in tables if t.startswith("catalogue_")}
        # The same permission row, now the catalogue's.
        assert list(group.permissions.all()) == [permission]
        assert Permission.objects.get(pk=permission.pk).content_type.app_label == "catalogue"
        assert not ContentType.objects.filter(app_label="esims").exists()
    finally:
        # Leave the schema as every later test expects it: all migrations applied.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
