"""On PostgreSQL the audit table refuses UPDATE and DELETE at the database level too, so no
code path (raw SQL, a shell, a bug) can rewrite history. SQLite relies on the model guard."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_auditlog is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_auditlog
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS audit_log_no_update ON audit_auditlog;
DROP FUNCTION IF EXISTS audit_log_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
