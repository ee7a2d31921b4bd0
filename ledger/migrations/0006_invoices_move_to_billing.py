"""Invoices and their lines now belong to the billing app (billing 0001). Only Django's
state changes here: the tables stay where they are, with their rows."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_reconciliation_moves_out")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="InvoiceLine"),
                migrations.DeleteModel(name="Invoice"),
            ],
            database_operations=[],
        )
    ]
