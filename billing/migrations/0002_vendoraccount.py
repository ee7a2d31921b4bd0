"""Vendors point at their ledger accounts (the ledger's `holder` is the vendor's id since
ledger 0007): one link row per existing vendor account."""

import django.db.models.deletion
from django.db import migrations, models


def links_create(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    VendorAccount = apps.get_model("billing", "VendorAccount")
    VendorAccount.objects.bulk_create(
        VendorAccount(vendor_id=holder, account_id=pk)
        for pk, holder in Account.objects.filter(holder__isnull=False)
        .order_by("id")
        .values_list("id", "holder")
    )


def links_drop(apps, schema_editor):
    apps.get_model("billing", "VendorAccount").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("ledger", "0007_account_holder_replaces_vendor"),
        ("vendors", "0003_vendor_low_balance_alerted_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="VendorAccount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "account",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="vendor_link",
                        to="ledger.account",
                    ),
                ),
                (
                    "vendor",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ledger_accounts",
                        to="vendors.vendor",
                    ),
                ),
            ],
            options={"ordering": ("vendor_id", "account_id")},
        ),
        migrations.RunPython(links_create, links_drop),
    ]
