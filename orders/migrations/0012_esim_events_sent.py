"""eSIMs record every lifecycle event already sent (`events_sent`) instead of the highest
usage alert. Alerts sent under the old rule (80 and 100 %) are carried over, with the
levels below them, so no vendor hears a level twice."""

from django.db import migrations, models

CARRIED = {80: ["usage:50", "usage:80"], 100: ["usage:50", "usage:80", "usage:90", "usage:100"]}


def carry_over(apps, schema_editor):
    Esim = apps.get_model("orders", "Esim")
    for percent, keys in CARRIED.items():
        Esim.objects.filter(usage_alerted_percent=percent).update(events_sent=keys)
    Esim.objects.filter(status="expired").exclude(usage_alerted_percent=100).update(
        events_sent=["expired"]
    )
    for esim in Esim.objects.filter(status="expired", usage_alerted_percent=100):
        Esim.objects.filter(pk=esim.pk).update(events_sent=[*CARRIED[100], "expired"])


class Migration(migrations.Migration):
    dependencies = [("orders", "0011_esim_page_version")]

    operations = [
        migrations.AddField(
            model_name="esim",
            name="events_sent",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="esim", name="esim_usage_alerted_percent_valid"),
        migrations.RemoveField(model_name="esim", name="usage_alerted_percent"),
    ]
