# The fleet's daily usage rollup, filled from the usage rows already stored.

import django.db.models.deletion
from django.db import migrations, models


def rollup_backfill(apps, schema_editor):
    """One rollup row per (vendor, livemode, day) of the usage rows a vendor's SIMs have:
    one INSERT ... SELECT ... GROUP BY, so millions of rows never come through Python."""
    day_table = apps.get_model("iot", "IotUsageDay")._meta.db_table
    rollup_table = apps.get_model("iot", "IotUsageRollup")._meta.db_table
    quote = schema_editor.connection.ops.quote_name
    schema_editor.execute(
        f"INSERT INTO {quote(rollup_table)} (vendor_id, livemode, day, data_bytes, sms_mo, sms_mt)"
        " SELECT vendor_id, livemode, day, SUM(data_bytes), SUM(sms_mo), SUM(sms_mt)"
        f" FROM {quote(day_table)} WHERE vendor_id IS NOT NULL"
        " GROUP BY vendor_id, livemode, day"
    )


class Migration(migrations.Migration):

    dependencies = [
        ('iot', '0002_sim_events_and_topup_reconciliation'),
        ('vendors', '0012_vendor_vat_number'),
    ]

    operations = [
        migrations.CreateModel(
            name='IotUsageRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('livemode', models.BooleanField(default=True)),
                ('day', models.DateField()),
                ('data_bytes', models.BigIntegerField(default=0)),
                ('sms_mo', models.IntegerField(default=0)),
                ('sms_mt', models.IntegerField(default=0)),
                ('vendor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='vendors.vendor')),
            ],
            options={
                'ordering': ('vendor', 'day'),
                'constraints': [models.UniqueConstraint(fields=('vendor', 'livemode', 'day'), name='iot_usage_rollup_vendor_mode_day')],
            },
        ),
        migrations.RunPython(rollup_backfill, migrations.RunPython.noop),
    ]
