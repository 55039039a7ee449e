from django.db import migrations

INDEX = "debtor_document_prefix_idx"


def prefix_index(apps, schema_editor):
    """PostgreSQL only: the search by an identity document's prefix, WHERE
    document_number::text LIKE '1234%' (documents are stored normalised, upper case).
    varchar_pattern_ops serves LIKE under any collation."""
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON debtors_debtor (document_number varchar_pattern_ops)")


def drop_prefix_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("debtors", "0005_candidate_timezones"),
    ]

    operations = [migrations.RunPython(prefix_index, drop_prefix_index)]
