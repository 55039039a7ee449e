"""Default strategy (seed 001), cadences (seed 002), contact-policy packs (ES, US Regulation F,
MX), follow-up settings, letter and promise-reminder templates. All of it is admin-editable."""

import datetime as dt

from django.db import migrations
from django.utils import timezone
from django.utils.translation import gettext_noop

OPT = "{{ opt_out_text }}"

NEW_TEMPLATES = [
    # objective, channel, name (same in both languages), language, subject, body
    ("get_commitment", "sms", "SMS (promise reminder)", "es", "",
     "{{ company_name }}: le recordamos su pago de {{ promise_amount }} previsto para el {{ promise_date }} "
     "(ref. {{ case_reference }}). {{ payment_link }} " + OPT),
    ("get_commitment", "sms", "SMS (promise reminder)", "en", "",
     "{{ company_name }}: a reminder of your payment of {{ promise_amount }} due on {{ promise_date }} "
     "(ref. {{ case_reference }}). {{ payment_link }} " + OPT),
    ("pressure", "letter", "Carta / Letter (pressure)", "es", "Requerimiento de pago {{ case_reference }}",
     "Estimado/a {{ debtor_name }}:\n\nPor la presente le requerimos el pago del saldo pendiente de {{ amount_due }} con "
     "{{ creditor_name }} (referencia {{ case_reference }}), vencido el {{ due_date }} hace {{ days_past_due }} días.\n\n"
     "Si no recibimos el pago o una propuesta de acuerdo en un plazo de diez días, {{ creditor_name }} podrá iniciar las "
     "acciones previstas en el contrato, siempre conforme a la ley.\n\nPuede pagar en {{ payment_link }} o llamarnos para "
     "acordar un plan de pagos.\n\nAtentamente,\n{{ agent_name }}\n{{ company_name }}"),
    ("pressure", "letter", "Carta / Letter (pressure)", "en", "Payment demand {{ case_reference }}",
     "Dear {{ debtor_name }},\n\nWe hereby demand payment of the outstanding balance of {{ amount_due }} with "
     "{{ creditor_name }} (reference {{ case_reference }}), due on {{ due_date }}, {{ days_past_due }} days ago.\n\n"
     "Unless we receive payment or a proposal within ten days, {{ creditor_name }} may take the steps the contract "
     "provides for, always within the law.\n\nYou can pay at {{ payment_link }} or call us to agree a payment plan.\n\n"
     "Yours sincerely,\n{{ agent_name }}\n{{ company_name }}"),
    ("change_terms", "letter", "Carta / Letter (change_terms)", "es", "Nuevas condiciones {{ case_reference }}",
     "Estimado/a {{ debtor_name }}:\n\nLe comunicamos que, tras la falta de pago, las condiciones de su cuenta con "
     "{{ creditor_name }} han cambiado (referencia {{ case_reference }}). El saldo pendiente es {{ amount_due }}.\n\n"
     "Podemos ofrecerle un plan de pagos con cuotas asumibles: contacte con nosotros.\n\n{{ agent_name }}\n{{ company_name }}"),
    ("change_terms", "letter", "Carta / Letter (change_terms)", "en", "New terms {{ case_reference }}",
     "Dear {{ debtor_name }},\n\nFollowing the missed payments, the terms of your account with {{ creditor_name }} have "
     "changed (reference {{ case_reference }}). The balance due is {{ amount_due }}.\n\nWe can offer you a payment plan "
     "with affordable instalments: please contact us.\n\n{{ agent_name }}\n{{ company_name }}"),
]

RULES = [
    # position, name, condition, threshold, objective, description
    (10, "Barrier open → remove barriers", "open_barrier", 0, "remove_barriers",
     "Something is missing on our side: give the customer what they need to pay (seed 001)."),
    (20, "Promise pending → follow it closely", "promise_pending", 0, "get_commitment",
     "A commitment exists: remind the day before, check the day after."),
    (30, "Consequence applied → change terms", "consequence_applied", 0, "change_terms",
     "After a consequence was actually applied: notify the new conditions, offer a plan."),
    (40, "Repeated broken promises → pressure", "broken_promises_at_least", 2, "pressure",
     "Two or more broken promises or a defaulted plan and a broken promise."),
    (50, "Refusal or suspected fraud → pressure", "refusal", 0, "pressure", "Hard accounts that won't pay."),
    (60, "Broken promise → get a commitment", "broken_promises_at_least", 1, "get_commitment",
     "\"I don't see yesterday's promised payment — when will you make it?\""),
    (70, "Excuse → get a commitment", "excuse_given", 0, "get_commitment", "From the first excuse on."),
    (80, "Long overdue with no answer → pressure", "days_past_due_at_least", 120, "pressure",
     "More than four months past due and nothing else applies."),
    (90, "Otherwise → remind", "always", 0, "remind", "Not yet due, just overdue, new customers."),
]

# Step instructions are admin-edited text; the seeded ones are marked for translation (gettext_noop) so
# that the planner shows them in the installation's language until an admin rewrites them.
CADENCES = {
    # objective: (name, repeat_every_days, [(delay_days, channel, kind, template name or None, instructions, consequence)])
    "remind": ("Remind", 7, [
        (0, "email", "automatic", "E-mail (remind)", "", False),
        (3, "sms", "automatic", "SMS (remind)", "", False),
        (5, "phone", "agent_task", None, gettext_noop("Reminder call: confirm they know about the debt and offer the payment link."), False),
    ]),
    "remove_barriers": ("Remove barriers", 5, [
        (0, "phone", "agent_task", None, gettext_noop("Send what is missing (invoice, certificate, contact) and confirm it arrived."), False),
        (2, "email", "automatic", "E-mail (remove_barriers)", "", False),
        (5, "phone", "agent_task", None, gettext_noop("Check nothing else is missing and ask for a payment date."), False),
    ]),
    "get_commitment": ("Get a commitment", 5, [
        (0, "phone", "agent_task", None, gettext_noop("Get a specific commitment: amount, date and method."), False),
        (2, "sms", "automatic", "SMS (get_commitment)", "", False),
        (4, "phone", "agent_task", None, gettext_noop("Call again: answer excuses with payment options."), False),
    ]),
    "pressure": ("Pressure", 7, [
        (0, "letter", "automatic", "Carta / Letter (pressure)", "", False),
        (7, "phone", "agent_task", None, gettext_noop("The written demand got no answer: call (seed 002). Announce the consequence, no coercion."), False),
        (14, "phone", "agent_task", None, gettext_noop("Apply the announced consequence (escalation, suspension) and record it."), True),
    ]),
    "change_terms": ("Change terms", 10, [
        (0, "letter", "automatic", "Carta / Letter (change_terms)", "", False),
        (3, "phone", "agent_task", None, gettext_noop("Notify the new terms and propose a payment plan."), False),
        (10, "email", "automatic", "E-mail (change_terms)", "", False),
    ]),
}

PACKS = [
    dict(code="es", name="España", countries="ES", is_default=True, start_time=dt.time(9), end_time=dt.time(21),
         weekdays="1,2,3,4,5", skip_holidays=True, holiday_country="ES", max_contacts_per_day=2,
         notes="Weekdays 09:00–21:00 in the debtor's time, no weekends or public holidays, a daily cap per debtor."),
    dict(code="us-reg-f", name="United States — Regulation F", countries="US", start_time=dt.time(8), end_time=dt.time(21),
         weekdays="1,2,3,4,5,6,7", skip_holidays=False, holiday_country="US", max_calls_per_case_7d=7,
         pause_days_after_conversation=7,
         notes="12 CFR 1006.6 and 1006.14: no contact before 8 a.m. or after 9 p.m. local time; presumed harassment above "
               "7 calls in 7 days per debt or a call within 7 days after a telephone conversation about the debt."),
    dict(code="mx", name="México", countries="MX", start_time=dt.time(7), end_time=dt.time(22),
         weekdays="1,2,3,4,5,6,7", skip_holidays=False, holiday_country="MX",
         notes="CONDUSEF: collection contact only between 07:00 and 22:00 in the debtor's time."),
]


def seed(apps, schema_editor):
    MessageTemplate = apps.get_model("contacts", "MessageTemplate")
    MessageTemplateVersion = apps.get_model("contacts", "MessageTemplateVersion")
    StrategyRule = apps.get_model("contacts", "StrategyRule")
    Cadence = apps.get_model("contacts", "Cadence")
    CadenceStep = apps.get_model("contacts", "CadenceStep")
    FollowUpSettings = apps.get_model("contacts", "FollowUpSettings")
    JurisdictionPack = apps.get_model("contacts", "JurisdictionPack")
    ExcuseCategory = apps.get_model("contacts", "ExcuseCategory")
    now = timezone.now()

    for objective, channel, name, lang, subject, body in NEW_TEMPLATES:
        template, created = MessageTemplate.objects.get_or_create(objective=objective, channel=channel, language=lang, name=name)
        if created:
            version = MessageTemplateVersion.objects.create(template=template, number=1, subject=subject, body=body, created_at=now)
            template.current_version = version
            template.save(update_fields=["current_version"])

    def template(objective, channel, name):
        if name is None:
            return None
        return MessageTemplate.objects.filter(objective=objective, channel=channel, name=name, language="es").first()

    for position, name, condition, threshold, objective, description in RULES:
        StrategyRule.objects.get_or_create(
            position=position, condition=condition,
            defaults={"name": name, "threshold": threshold, "objective": objective, "description": description},
        )
    for objective, (name, repeat, steps) in CADENCES.items():
        cadence, created = Cadence.objects.get_or_create(objective=objective, defaults={"name": name, "repeat_every_days": repeat})
        if not created:
            continue
        for position, (delay, channel, kind, tname, instructions, consequence) in enumerate(steps):
            CadenceStep.objects.create(
                cadence=cadence, position=position, delay_days=delay, channel=channel, kind=kind,
                template=template(objective, channel, tname), instructions=instructions, is_consequence=consequence,
                send_time=dt.time(10),
            )
    FollowUpSettings.objects.get_or_create(
        pk=1, defaults={"reminder_template": template("get_commitment", "sms", "SMS (promise reminder)")}
    )
    for pack in PACKS:
        JurisdictionPack.objects.get_or_create(code=pack["code"], defaults=pack)
    ExcuseCategory.objects.get_or_create(
        code="suspected_fraud",
        defaults={"name_es": "Sospecha de fraude", "name_en": "Suspected fraud", "suggested_objective": "pressure",
                  "is_barrier": False, "position": 99},
    )


class Migration(migrations.Migration):
    dependencies = [("contacts", "0003_followup_engine")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
