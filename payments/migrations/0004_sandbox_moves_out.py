"""The sandbox gateway's tables move to the sandbox app: state only, the tables and rows stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('payments', '0003_payment_card'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.RemoveField(
                    model_name='sandboxrefund',
                    name='payment_intent',
                ),
                migrations.DeleteModel(
                    name='SandboxPaymentIntent',
                ),
                migrations.DeleteModel(
                    name='SandboxRefund',
                ),
            ],
        ),
    ]
