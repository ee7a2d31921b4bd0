"""The sandbox provider's tables move to the sandbox app: state only, the tables and rows stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('esims', '0003_esim_moves_to_orders'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name='sandboxesim',
                    name='order',
                ),
                migrations.DeleteModel(
                    name='SandboxBundleAssignment',
                ),
                migrations.DeleteModel(
                    name='SandboxEsim',
                ),
                migrations.DeleteModel(
                    name='SandboxOrder',
                ),
            ],
        ),
    ]
