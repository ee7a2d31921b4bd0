"""PostgreSQL enforces the ledger's invariants itself (no-op on SQLite, where
ledger/posting.py does the same work in the service layer):

* entries and transactions are append-only (UPDATE/DELETE raise);
* an entry insert moves its account's cached balance and stamps `balance_after`;
  a hold insert/resolution moves the account's `held`; nothing else may change
  `balance`/`held` (so the cache always equals the entries and the pending holds);
* hold terms are immutable and a resolved hold is final;
* every transaction sums to zero per currency, checked at commit (deferred constraint
  trigger);
* the CHECK constraints of migration 0001 keep balance/held within floor/ceiling.

Errors use SQLSTATE class 23 (integrity constraint violation), so Django raises
IntegrityError.
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transaction_append_only BEFORE UPDATE OR DELETE ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE OR REPLACE FUNCTION ledger_entry_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    new_balance bigint;
BEGIN
    UPDATE ledger_account
       SET balance = balance + CASE WHEN normal = 'debit' THEN NEW.amount ELSE -NEW.amount END
     WHERE id = NEW.account_id
    RETURNING balance INTO new_balance;
    IF new_balance IS NULL THEN
        RAISE EXCEPTION 'ledger account % does not exist', NEW.account_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    NEW.balance_after := new_balance;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_entry_apply BEFORE INSERT ON ledger_entry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_apply();

CREATE OR REPLACE FUNCTION ledger_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance <> 0 OR NEW.held <> 0 THEN
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

CREATE TRIGGER ledger_account_guard BEFORE INSERT OR UPDATE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_account_guard();
CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE OR REPLACE FUNCTION ledger_hold_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'pending' THEN
            RAISE EXCEPTION 'a hold starts pending' USING ERRCODE = 'check_violation';
        END IF;
        UPDATE ledger_account SET held = held + NEW.amount WHERE id = NEW.account_id;
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'holds are never deleted' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.account_id <> OLD.account_id OR NEW.amount <> OLD.amount
        OR NEW.reference <> OLD.reference OR NEW.counter_account_id <> OLD.counter_account_id
        OR NEW.order_id IS DISTINCT FROM OLD.order_id THEN
        RAISE EXCEPTION 'hold % terms are immutable', OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status <> 'pending' THEN
        IF NEW IS DISTINCT FROM OLD THEN
            RAISE EXCEPTION 'hold % is already %', OLD.id, OLD.status
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.status <> 'pending' THEN
        UPDATE ledger_account SET held = held - OLD.amount WHERE id = OLD.account_id;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_hold_apply BEFORE INSERT OR UPDATE OR DELETE ON ledger_hold
    FOR EACH ROW EXECUTE FUNCTION ledger_hold_apply();

CREATE OR REPLACE FUNCTION ledger_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT a.currency, sum(e.amount) AS total INTO bad
      FROM ledger_entry e JOIN ledger_account a ON a.id = e.account_id
     WHERE e.transaction_id = NEW.transaction_id
     GROUP BY a.currency
    HAVING sum(e.amount) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: % off by %',
            NEW.transaction_id, bad.currency, bad.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balanced();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS ledger_entry_balanced ON ledger_entry;
DROP TRIGGER IF EXISTS ledger_hold_apply ON ledger_hold;
DROP TRIGGER IF EXISTS ledger_account_no_delete ON ledger_account;
DROP TRIGGER IF EXISTS ledger_account_guard ON ledger_account;
DROP TRIGGER IF EXISTS ledger_entry_apply ON ledger_entry;
DROP TRIGGER IF EXISTS ledger_transaction_append_only ON ledger_transaction;
DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_transaction_balanced();
DROP FUNCTION IF EXISTS ledger_hold_apply();
DROP FUNCTION IF EXISTS ledger_account_guard();
DROP FUNCTION IF EXISTS ledger_entry_apply();
DROP FUNCTION IF EXISTS ledger_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
