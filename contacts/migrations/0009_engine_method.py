"""The engine follows the method (issue #18): rules on excuses, arguments, partial payments,
acknowledgements, the size of the debt and the time since the last contact, scoped to a creditor
or a segment; excuse categories that open a barrier; what happens to commitments while a case is
paused; follow-up reasons stored as codes (the old texts are kept as {"text": ...}). The new
default rules are added around the shipped ones (an admin's own rules stay as they are)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


BARRIER_KINDS = {
    "invoice_not_received": "invoice_copy", "tax_certificate_missing": "tax_certificate", "wrong_ap_contact": "ap_contact",
    "withholding_receipt": "withholding_receipt", "bank_details": "payment_details",
}

NEW_EXCUSES = [
    # code, es, en, usual objective (seed 004: a genuine inability to pay calls for payment options)
    ("lost_income", "Ha perdido su empleo o sus ingresos", "Lost their job or income", "change_terms"),
    ("illness", "Enfermedad o problema familiar grave", "Illness or serious family problem", "change_terms"),
]

NEW_RULES = [
    # position, name, condition, threshold, window_days, amount, objective, description
    (55, "Repeated excuses → pressure", "excuses_in_window", 3, 30, None, "pressure",
     "Three excuses within 30 days: firm answers that leave no way out (seed 004), within the law."),
    (62, "Argument (cannot pay now) → offer payment options", "argument_given", 0, 0, None, "change_terms",
     "A genuine inability to pay is an argument, not an excuse: offer a payment plan (seeds 000, 004)."),
    (64, "Part paid, no agreement → get a commitment", "partial_payment_no_agreement", 0, 0, None, "get_commitment",
     "A payment came in without a promise or plan for the rest: agree how and when the rest is paid."),
    (66, "Acknowledged, no date → get a commitment", "acknowledged_no_date", 0, 0, None, "get_commitment",
     "The debtor accepts the debt but gave no date: get a specific amount, date and method."),
    (75, "Large debt stuck → pressure (formal letter)", "balance_at_least", 60, 0, "3000.00", "pressure",
     "A large debt more than 60 days past due gets a formal letter (seed 002)."),
]


def reasons_to_json(apps, schema_editor):
    table = apps.get_model("contacts", "FollowUp")._meta.db_table
    build = "jsonb_build_object('text', reason)" if schema_editor.connection.vendor == "postgresql" else "json_object('text', reason)"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET reason_data = {build} WHERE reason <> ''")


def seed(apps, schema_editor):
    ExcuseCategory = apps.get_model("contacts", "ExcuseCategory")
    StrategyRule = apps.get_model("contacts", "StrategyRule")
    for code, kind in BARRIER_KINDS.items():
        ExcuseCategory.objects.filter(code=code, is_barrier=True, barrier_kind="").update(barrier_kind=kind)
    ExcuseCategory.objects.filter(is_barrier=True, barrier_kind="").update(barrier_kind="other")
    last = ExcuseCategory.objects.order_by("-position").values_list("position", flat=True).first() or 0
    for offset, (code, es, en, objective) in enumerate(NEW_EXCUSES, start=1):
        ExcuseCategory.objects.get_or_create(code=code, defaults={
            "name_es": es, "name_en": en, "suggested_objective": objective, "is_barrier": False, "position": last + offset})
    for position, name, condition, threshold, window, amount, objective, description in NEW_RULES:
        if not StrategyRule.objects.filter(condition=condition).exists():
            StrategyRule.objects.create(position=position, name=name, condition=condition, threshold=threshold,
                                        window_days=window, amount=amount, objective=objective, description=description)
    # The shipped excuse rule now says that it follows the category's usual objective.
    StrategyRule.objects.filter(condition="excuse_given", name="Excuse → get a commitment").update(
        name="Excuse → its usual objective (else get a commitment)",
        description="From the first excuse on; the excuse category's usual objective when it has one.")


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0010_reasons_as_codes'),
        ('contacts', '0008_moved_from_adminarea'),
        ('debtors', '0004_data_protection'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='contactattempt',
            name='attempt_outcome_valid',
        ),
        migrations.RemoveConstraint(
            model_name='strategyrule',
            name='rule_condition_valid',
        ),
        migrations.AddField(
            model_name='excusecategory',
            name='barrier_kind',
            field=models.CharField(blank=True, choices=[('invoice_copy', 'Copy of the invoice'), ('tax_certificate', 'Updated tax certificate'), ('ap_contact', 'Accounts-payable contact'), ('withholding_receipt', 'Withholding receipt'), ('payment_details', 'Bank details for payment'), ('other', 'Other')], db_default='', default='', max_length=24, verbose_name='barrier it opens'),
        ),
        migrations.AddField(
            model_name='followupsettings',
            name='paused_commitments',
            field=models.CharField(choices=[('shift', 'Their dates move by the length of the pause'), ('evaluate', 'They are evaluated as they stand when the pause lifts')], db_default='shift', default='shift', help_text='Nothing is broken or missed while a case is paused (dispute, hold, a debtor flag).', max_length=10, verbose_name='promises and instalments while a case is paused'),
        ),
        migrations.AddField(
            model_name='strategyrule',
            name='amount',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True, verbose_name='amount'),
        ),
        migrations.AddField(
            model_name='strategyrule',
            name='creditor',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cases.creditor', verbose_name='only for creditor'),
        ),
        migrations.AddField(
            model_name='strategyrule',
            name='debtor_kind',
            field=models.CharField(blank=True, choices=[('person', 'Person'), ('company', 'Company')], default='', max_length=10, verbose_name='only for debtors of kind'),
        ),
        migrations.AddField(
            model_name='strategyrule',
            name='window_days',
            field=models.PositiveSmallIntegerField(default=0, verbose_name='within the last D days'),
        ),
        migrations.AlterField(
            model_name='contactattempt',
            name='outcome',
            field=models.CharField(choices=[('no_answer', 'No answer'), ('busy', 'Busy'), ('left_message', 'Left message'), ('wrong_party', 'Wrong party'), ('right_party', 'Right-party contact'), ('acknowledged', 'Acknowledged the debt, no date'), ('promise', 'Promise to pay'), ('payment', 'Payment'), ('dispute', 'Dispute'), ('refusal', 'Refusal to pay'), ('excuse', 'Excuse'), ('callback', 'Call back requested'), ('sent', 'Message sent'), ('bounced', 'Message bounced')], max_length=20, verbose_name='outcome'),
        ),
        migrations.AddField(
            model_name='followup', name='reason_data', field=models.JSONField(blank=True, default=dict, verbose_name='reason'),
        ),
        migrations.RunPython(reasons_to_json, migrations.RunPython.noop),
        migrations.RemoveField(model_name='followup', name='reason'),
        migrations.RenameField(model_name='followup', old_name='reason_data', new_name='reason'),
        migrations.AlterField(
            model_name='strategyrule',
            name='condition',
            field=models.CharField(choices=[('open_barrier', 'A payment barrier is open (something missing on our side)'), ('promise_pending', 'A promise or instalment is pending'), ('consequence_applied', 'A consequence was applied after the last commitment'), ('broken_promises_at_least', 'At least N promises broken or plans defaulted'), ('refusal', 'The debtor refused to pay or fraud is suspected'), ('excuses_in_window', 'At least N excuses within the last D days'), ('argument_given', "The debtor's last statement was an argument (cannot pay now)"), ('partial_payment_no_agreement', 'Part paid, with no promise or plan for the rest'), ('acknowledged_no_date', 'The debtor acknowledged the debt but gave no date'), ('excuse_given', "The debtor gave an excuse (its category's usual objective, if it has one)"), ('balance_at_least', 'Balance at or above an amount, and at least N days past due'), ('days_since_contact_at_least', 'At least N days since the last contact (or never contacted)'), ('days_past_due_at_least', 'At least N days past due'), ('always', 'Always (fallback)')], max_length=32, verbose_name='condition'),
        ),
        migrations.AddConstraint(
            model_name='contactattempt',
            constraint=models.CheckConstraint(condition=models.Q(('outcome__in', ['no_answer', 'busy', 'left_message', 'wrong_party', 'right_party', 'acknowledged', 'promise', 'payment', 'dispute', 'refusal', 'excuse', 'callback', 'sent', 'bounced'])), name='attempt_outcome_valid'),
        ),
        migrations.AddConstraint(
            model_name='strategyrule',
            constraint=models.CheckConstraint(condition=models.Q(('condition__in', ['open_barrier', 'promise_pending', 'consequence_applied', 'broken_promises_at_least', 'refusal', 'excuses_in_window', 'argument_given', 'partial_payment_no_agreement', 'acknowledged_no_date', 'excuse_given', 'balance_at_least', 'days_since_contact_at_least', 'days_past_due_at_least', 'always'])), name='rule_condition_valid'),
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
