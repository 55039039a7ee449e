
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        # The table exists already (created by the admin area's first migration).
        ('adminarea', '0002_initial_data'),
        ('contacts', '0007_step_send_time_default'),
    ]

    operations = [
        # The model moves here from the admin area; its table stays as it is (db_table).
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='Playbook',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('objective', models.CharField(choices=[('remind', 'Remind'), ('remove_barriers', 'Remove barriers'), ('get_commitment', 'Get a commitment'), ('pressure', 'Pressure'), ('change_terms', 'Change terms')], max_length=20, verbose_name='objective')),
                    ('language', models.CharField(choices=[('es', 'Español'), ('en', 'English')], max_length=8, verbose_name='language')),
                    ('title', models.CharField(max_length=120, verbose_name='title')),
                    ('talking_points', models.TextField(help_text='One point per line.', max_length=4000, verbose_name='talking points')),
                    ('active', models.BooleanField(default=True, verbose_name='active')),
                    ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                    ('excuse_category', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='playbooks', to='contacts.excusecategory', verbose_name='excuse category')),
                ],
                options={
                    'verbose_name': 'playbook',
                    'verbose_name_plural': 'playbooks',
                    'db_table': 'adminarea_playbook',
                    'ordering': ['objective', 'excuse_category__position', 'language'],
                    'constraints': [models.CheckConstraint(condition=models.Q(('objective__in', ['remind', 'remove_barriers', 'get_commitment', 'pressure', 'change_terms'])), name='playbook_objective_valid'), models.UniqueConstraint(condition=models.Q(('excuse_category__isnull', False)), fields=('objective', 'excuse_category', 'language'), name='playbook_unique_per_excuse'), models.UniqueConstraint(condition=models.Q(('excuse_category__isnull', True)), fields=('objective', 'language'), name='playbook_unique_generic')],
                },
            ),
            ],
            database_operations=[],
        ),
    ]
