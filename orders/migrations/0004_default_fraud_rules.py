"""A starting set of fraud rules, all disabled: operators tune limits and scores in the
admin and switch on what fits their traffic."""

from django.db import migrations

DEFAULTS = [
    ("More than 3 orders per customer an hour", "customer_velocity", "hour", 3, "", "", 60),
    ("More than 10 orders per customer a day", "customer_velocity", "day", 10, "", "", 60),
    ("More than 20 orders per email domain a day", "email_domain_velocity", "day", 20, "", "", 40),
    ("More than 5 orders per IP an hour", "ip_velocity", "hour", 5, "", "", 60),
    ("More than 3 orders per card a day", "card_velocity", "day", 3, "", "", 80),
    ("More than 200 orders per vendor an hour", "vendor_velocity", "hour", 200, "", "", 50),
    ("First order above 100.00 USD", "first_order_amount", "", 10_000, "USD", "", 50),
    ("High-risk card or vendor country", "country_risk", "", 0, "", "KP,IR,SY", 100),
    ("More than 5 eSIMs in one order", "quantity", "", 5, "", "", 40),
    ("Any dispute on record", "disputes", "", 0, "", "", 100),
]


def create(apps, schema_editor):
    FraudRule = apps.get_model("orders", "FraudRule")
    FraudSettings = apps.get_model("orders", "FraudSettings")
    FraudSettings.objects.get_or_create(pk=1, defaults={"review_threshold": 100})
    for name, kind, window, limit, currency, countries, score in DEFAULTS:
        FraudRule.objects.get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "window": window,
                "limit": limit,
                "currency": currency,
                "countries": countries,
                "score": score,
                "enabled": False,
            },
        )


def remove(apps, schema_editor):
    FraudRule = apps.get_model("orders", "FraudRule")
    FraudRule.objects.filter(name__in=[d[0] for d in DEFAULTS], enabled=False).delete()


class Migration(migrations.Migration):
    dependencies = [("orders", "0003_orderreview_fraudrule_fraudsettings")]

    operations = [migrations.RunPython(create, remove)]
