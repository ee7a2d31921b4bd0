"""The eSIM records, their refunds, the provider's refunds and the auto top-ups move to the
fulfilment app (fulfilment 0001). Only Django's state changes: the tables and their rows
stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0020_order_provisioning_queued_until'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name='autotopuprun',
                    name='rule',
                ),
                migrations.RemoveField(
                    model_name='autotopuprun',
                    name='esim',
                ),
                migrations.RemoveField(
                    model_name='autotopuprun',
                    name='order',
                ),
                migrations.RemoveField(
                    model_name='esim',
                    name='order',
                ),
                migrations.RemoveField(
                    model_name='esimrefund',
                    name='esim',
                ),
                migrations.RemoveField(
                    model_name='esimrefund',
                    name='order',
                ),
                migrations.RemoveField(
                    model_name='providerrefund',
                    name='order',
                ),
                migrations.DeleteModel(
                    name='AutoTopupRule',
                ),
                migrations.DeleteModel(
                    name='AutoTopupRun',
                ),
                migrations.DeleteModel(
                    name='Esim',
                ),
                migrations.DeleteModel(
                    name='EsimRefund',
                ),
                migrations.DeleteModel(
                    name='ProviderRefund',
                ),
            ],
        ),
    ]
