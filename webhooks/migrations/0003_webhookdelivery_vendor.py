"""A delivery carries its endpoint's vendor, so a vendor's delivery log is one index range."""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
UPDATE webhooks_webhookdelivery
SET vendor_id = (
    SELECT e.vendor_id FROM webhooks_webhookendpoint e
    WHERE e.id = webhooks_webhookdelivery.endpoint_id
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("vendors", "0003_vendor_low_balance_alerted_at"),
        ("webhooks", "0002_webhookdelivery_historicalwebhookendpoint_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookdelivery",
            name="vendor",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="webhook_deliveries",
                to="vendors.vendor",
            ),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="vendor",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="webhook_deliveries",
                to="vendors.vendor",
            ),
        ),
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(fields=["vendor", "-id"], name="webhook_delivery_vendor_recent"),
        ),
    ]
