
import django.db.models.deletion
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        # The table exists already (created by the admin area's first migration).
        ('adminarea', '0002_initial_data'),
        ('cases', '0008_creditor_retention_days'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The model moves here from the admin area; its table stays as it is (db_table).
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='PlanGuardrails',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('min_instalment', models.DecimalField(decimal_places=2, default=Decimal('30.00'), max_digits=14, verbose_name='minimum instalment')),
                    ('max_instalments', models.PositiveSmallIntegerField(default=12, verbose_name='maximum number of instalments')),
                    ('max_term_months', models.PositiveSmallIntegerField(default=12, verbose_name='maximum term (months)')),
                    ('max_discount_percent', models.DecimalField(decimal_places=2, default=Decimal('10.00'), max_digits=5, verbose_name='maximum discount an agent may grant (%)')),
                    ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated')),
                    ('updated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'verbose_name': 'payment-plan guardrails',
                    'verbose_name_plural': 'payment-plan guardrails',
                    'db_table': 'adminarea_planguardrails',
                    'constraints': [models.CheckConstraint(condition=models.Q(('pk', 1)), name='guardrails_single_row'), models.CheckConstraint(condition=models.Q(('min_instalment__gt', 0)), name='guardrails_min_instalment_positive'), models.CheckConstraint(condition=models.Q(('max_instalments__gte', 1)), name='guardrails_max_instalments_positive'), models.CheckConstraint(condition=models.Q(('max_term_months__gte', 1)), name='guardrails_term_positive'), models.CheckConstraint(condition=models.Q(('max_discount_percent__gte', 0), ('max_discount_percent__lte', 100)), name='guardrails_discount_range')],
                },
            ),
            ],
            database_operations=[],
        ),
    ]
