"""eSIM records now belong to the orders app (orders 0008). Only Django's state changes:
the table `esims_esim` and its rows stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("esims", "0002_esim")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Esim")], database_operations=[]
        )
    ]
