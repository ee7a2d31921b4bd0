"""The catalogue's models now belong to the catalogue app (catalogue 0001). Only Django's
state changes: the tables `esims_region`, `esims_country`, `esims_bundle` (and
`esims_bundle_countries`), `esims_pricerule`, `esims_bundlepricehistory` and their rows
stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('esims', '0004_sandbox_moves_out'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name='bundle',
                    name='countries',
                ),
                migrations.RemoveField(
                    model_name='bundle',
                    name='region',
                ),
                migrations.RemoveField(
                    model_name='pricerule',
                    name='bundle',
                ),
                migrations.RemoveField(
                    model_name='country',
                    name='region',
                ),
                migrations.RemoveField(
                    model_name='pricerule',
                    name='country',
                ),
                migrations.RemoveField(
                    model_name='pricerule',
                    name='region',
                ),
                migrations.DeleteModel(
                    name='BundlePriceHistory',
                ),
                migrations.DeleteModel(
                    name='Bundle',
                ),
                migrations.DeleteModel(
                    name='Country',
                ),
                migrations.DeleteModel(
                    name='PriceRule',
                ),
                migrations.DeleteModel(
                    name='Region',
                ),
            ],
        ),
    ]
