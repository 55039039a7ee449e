"""Playbook moved to contacts and PlanGuardrails to cases (the domain); their tables stay."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("adminarea", "0002_initial_data"),
        ("cases", "0009_moved_from_adminarea"),
        ("contacts", "0008_moved_from_adminarea"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="Playbook"),
                migrations.DeleteModel(name="PlanGuardrails"),
            ],
            database_operations=[],
        ),
    ]
