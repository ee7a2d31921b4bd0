"""Reconciliation runs and findings now belong to the reconciliation app. Only Django's
state changes here: the tables stay where they are (reconciliation 0001 takes them over
under their names), so no row is dropped or copied."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_platform_accounts_keep_no_balance")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ReconciliationFinding"),
                migrations.DeleteModel(name="ReconciliationRun"),
            ],
            database_operations=[],
        )
    ]
