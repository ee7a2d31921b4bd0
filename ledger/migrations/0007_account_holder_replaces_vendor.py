"""A ledger account stops pointing at its vendor: `vendor` (a foreign key to vendors)
becomes `holder`, the owner's own key as a plain integer, and the vendor points at its
accounts instead (billing.VendorAccount, billing 0002). The ledger is pure double entry
and knows no other app's tables.

Existing rows keep their ids and values: the column is renamed (`vendor_id` -> `holder`)
and only its foreign-key constraint and index go; the unique and owner checks are
recreated on the new column. On PostgreSQL the account guard trigger's immutable
identity now names `holder`.
"""

from django.db import migrations, models

GUARD = r"""
CREATE OR REPLACE FUNCTION ledger_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF coalesce(NEW.balance, 0) <> 0 OR NEW.held <> 0 THEN
            RAISE EXCEPTION 'a new ledger account starts at zero'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    -- depth 1 = a statement on the account itself; the entry/hold triggers run at depth >= 2
    IF pg_trigger_depth() < 2 AND (
           NEW.balance IS DISTINCT FROM OLD.balance
        OR NEW.held IS DISTINCT FROM OLD.held) THEN
        RAISE EXCEPTION 'ledger account % balance/held change only through entries and holds', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.normal IS DISTINCT FROM OLD.normal
        OR NEW.currency IS DISTINCT FROM OLD.currency
        OR NEW.holder IS DISTINCT FROM OLD.holder
        OR NEW.purpose IS DISTINCT FROM OLD.purpose THEN
        RAISE EXCEPTION 'ledger account % identity is immutable', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
"""


def guard_replace(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0006_invoices_move_to_billing")]

    operations = [
        migrations.RemoveConstraint(model_name="account", name="ledger_account_platform_unique"),
        migrations.RemoveConstraint(model_name="account", name="ledger_account_vendor_unique"),
        migrations.RemoveConstraint(
            model_name="account", name="ledger_account_owner_matches_vendor"
        ),
        migrations.AlterField(
            model_name="account",
            name="vendor",
            field=models.BigIntegerField(blank=True, null=True, db_column="vendor_id"),
        ),
        migrations.RenameField(model_name="account", old_name="vendor", new_name="holder"),
        migrations.AlterField(
            model_name="account",
            name="holder",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        # Irreversible on purpose, like 0004: the guard names the column that now exists.
        migrations.RunPython(guard_replace),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("holder__isnull", True)),
                fields=("purpose", "currency"),
                name="ledger_account_platform_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("holder__isnull", False)),
                fields=("holder", "purpose", "currency"),
                name="ledger_account_holder_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("owner", "vendor"), ("holder__isnull", False)),
                    models.Q(("owner", "platform"), ("holder__isnull", True)),
                    _connector="OR",
                ),
                name="ledger_account_owner_has_holder",
            ),
        ),
    ]
