from django.db import migrations

SQL = """
CREATE OR REPLACE FUNCTION ttelgo_auditlog_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit log rows are append-only (% refused)', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS ttelgo_auditlog_append_only ON ttelgo_auditlog;
CREATE TRIGGER ttelgo_auditlog_append_only
    BEFORE UPDATE OR DELETE ON ttelgo_auditlog
    FOR EACH ROW EXECUTE FUNCTION ttelgo_auditlog_append_only();
"""
REVERSE = """
DROP TRIGGER IF EXISTS ttelgo_auditlog_append_only ON ttelgo_auditlog;
DROP FUNCTION IF EXISTS ttelgo_auditlog_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SQL, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE, params=None)


class Migration(migrations.Migration):
    dependencies = [("ttelgo", "0003_auditlog")]
    operations = [migrations.RunPython(forwards, backwards)]
