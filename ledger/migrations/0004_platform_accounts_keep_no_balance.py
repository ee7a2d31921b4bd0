"""Platform (house) accounts stop caching a running balance.

Every completed order posts to revenue, cost of sales and provider payable; with a cached
balance on those rows, every posting on the platform had to lock the same three rows, and
order creation (a deferred foreign-key check on revenue at COMMIT) deadlocked with
completion. From here on only vendor accounts (wallets, receivables: the ones whose bound
the database checks) cache a balance; a platform account's balance is the sum of its
entries, and its new entries carry no `balance_after`.

Existing rows: platform accounts' `balance` becomes NULL; entries already posted keep
their `balance_after` (entries are immutable).
"""

from django.db import migrations, models

FORWARD = r"""
CREATE OR REPLACE FUNCTION ledger_entry_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    new_balance bigint;
BEGIN
    -- Only accounts that cache a balance are updated (and so row-locked); a platform
    -- account's row is never written by a posting. Its existence is the foreign key's job.
    UPDATE ledger_account
       SET balance = balance + CASE WHEN normal = 'debit' THEN NEW.amount ELSE -NEW.amount END
     WHERE id = NEW.account_id AND balance IS NOT NULL
    RETURNING balance INTO new_balance;
    NEW.balance_after := new_balance;
    RETURN NEW;
END $$;

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
        OR NEW.vendor_id IS DISTINCT FROM OLD.vendor_id
        OR NEW.purpose IS DISTINCT FROM OLD.purpose THEN
        RAISE EXCEPTION 'ledger account % identity is immutable', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

ALTER TABLE ledger_account DISABLE TRIGGER ledger_account_guard;
UPDATE ledger_account SET balance = NULL WHERE vendor_id IS NULL;
ALTER TABLE ledger_account ENABLE TRIGGER ledger_account_guard;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)
    else:
        apps.get_model("ledger", "Account").objects.filter(vendor__isnull=True).update(
            balance=None
        )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_reconciliationrun_reconciliationfinding")]

    operations = [
        migrations.AlterField(
            model_name="account",
            name="balance",
            field=models.BigIntegerField(blank=True, default=0, null=True),
        ),
        migrations.AlterField(
            model_name="entry",
            name="balance_after",
            field=models.BigIntegerField(
                blank=True,
                help_text="account balance (normal direction) after; NULL on accounts with no cached balance",
                null=True,
            ),
        ),
        # Irreversible on purpose: the old trigger would refuse to recompute the cache.
        migrations.RunPython(forward),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("owner", "vendor"), ("balance__isnull", False)),
                    models.Q(
                        ("owner", "platform"),
                        ("balance__isnull", True),
                        ("floor__isnull", True),
                        ("ceiling__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="ledger_account_cached_balance_iff_vendor",
            ),
        ),
    ]
