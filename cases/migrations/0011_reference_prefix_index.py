from django.db import migrations

INDEX = "case_reference_prefix_idx"


def prefix_index(apps, schema_editor):
    """PostgreSQL only: the queue's search by a reference prefix, WHERE UPPER(reference::text)
    LIKE 'XSS-000%'. A plain btree serves LIKE only under the C collation; text_pattern_ops
    serves it under any (and equality too)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON cases_case (UPPER(reference::text) text_pattern_ops)")


def drop_prefix_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0010_reasons_as_codes"),
    ]

    operations = [migrations.RunPython(prefix_index, drop_prefix_index)]
