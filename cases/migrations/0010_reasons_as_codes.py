"""The case's "why" and "next step" become data: a reason code and its parameters written by the
engine, or {"text": ...} typed by a person, rendered in the reader's language. The texts stored
so far are kept as {"text": ...} until the next replan rewrites them (``manage.py plan_followups``);
``paused_at`` records since when the engine holds a case."""

from django.db import migrations, models


def to_json(apps, schema_editor):
    table = apps.get_model("cases", "Case")._meta.db_table
    build = "jsonb_build_object('text', {col})" if schema_editor.connection.vendor == "postgresql" else "json_object('text', {col})"
    with schema_editor.connection.cursor() as cursor:
        for old, new in (("objective_reason", "objective_reason_data"), ("next_action_note", "next_action_note_data")):
            cursor.execute(f"UPDATE {table} SET {new} = {build.format(col=old)} WHERE {old} <> ''")


class Migration(migrations.Migration):
    dependencies = [("cases", "0009_moved_from_adminarea")]

    operations = [
        migrations.AddField(
            model_name="case", name="paused_at", field=models.DateTimeField(blank=True, null=True, verbose_name="paused since"),
        ),
        migrations.AddField(
            model_name="case", name="objective_reason_data",
            field=models.JSONField(blank=True, default=dict, verbose_name="why this objective"),
        ),
        migrations.AddField(
            model_name="case", name="next_action_note_data",
            field=models.JSONField(blank=True, default=dict, verbose_name="next step"),
        ),
        migrations.RunPython(to_json, migrations.RunPython.noop),
        migrations.RemoveField(model_name="case", name="objective_reason"),
        migrations.RemoveField(model_name="case", name="next_action_note"),
        migrations.RenameField(model_name="case", old_name="objective_reason_data", new_name="objective_reason"),
        migrations.RenameField(model_name="case", old_name="next_action_note_data", new_name="next_action_note"),
    ]
