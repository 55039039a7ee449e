"""Initial admin data: letter templates for the objectives that had none (the follow-up engine
ships the pressure and change-terms letters), one generic playbook per objective and language
(seed 004's unified criteria) plus excuse-specific ones, and the guardrails row."""

from django.db import migrations
from django.utils import timezone

LETTERS = {
    # objective: {lang: (subject, body)}
    "remind": {
        "es": ("Recordatorio de pago {{ case_reference }}",
               "Estimado/a {{ debtor_name }}:\n\nLe recordamos que su cuenta con {{ creditor_name }} presenta un saldo pendiente de "
               "{{ amount_due }} (referencia {{ case_reference }}, vencimiento {{ due_date }}). Nuestro objetivo es trabajar de "
               "manera conjunta para encontrar una solución que sea factible para ambas partes.\n\nPuede pagar en {{ payment_link }} "
               "o llamarnos para hablar de su situación.\n\nAtentamente,\n{{ agent_name }}\n{{ company_name }}"),
        "en": ("Payment reminder {{ case_reference }}",
               "Dear {{ debtor_name }},\n\nThis is a reminder that your account with {{ creditor_name }} shows an outstanding balance "
               "of {{ amount_due }} (reference {{ case_reference }}, due {{ due_date }}). Our aim is to work together to find a "
               "solution that works for both sides.\n\nYou can pay at {{ payment_link }} or call us to discuss your situation.\n\n"
               "Yours sincerely,\n{{ agent_name }}\n{{ company_name }}"),
    },
    "remove_barriers": {
        "es": ("Documentación para su pago {{ case_reference }}",
               "Estimado/a {{ debtor_name }}:\n\nAdjuntamos la documentación que nos indicó que necesitaba para tramitar el pago de "
               "{{ amount_due }} (referencia {{ case_reference }}). Le agradecemos que nos confirme la fecha de pago.\n\n"
               "Atentamente,\n{{ agent_name }}\n{{ company_name }}"),
        "en": ("Documents for your payment {{ case_reference }}",
               "Dear {{ debtor_name }},\n\nPlease find enclosed the documents you told us you needed to process the payment of "
               "{{ amount_due }} (reference {{ case_reference }}). Kindly confirm the payment date.\n\n"
               "Yours sincerely,\n{{ agent_name }}\n{{ company_name }}"),
    },
    "get_commitment": {
        "es": ("Su compromiso de pago {{ case_reference }}",
               "Estimado/a {{ debtor_name }}:\n\nNo consta el pago de {{ promise_amount }} que se comprometió a realizar el "
               "{{ promise_date }} (referencia {{ case_reference }}). Le rogamos que lo realice en {{ payment_link }} o que nos llame "
               "para acordar una nueva fecha.\n\nAtentamente,\n{{ agent_name }}\n{{ company_name }}"),
        "en": ("Your payment commitment {{ case_reference }}",
               "Dear {{ debtor_name }},\n\nWe have no record of the payment of {{ promise_amount }} you committed to make on "
               "{{ promise_date }} (reference {{ case_reference }}). Please pay at {{ payment_link }} or call us to agree a new "
               "date.\n\nYours sincerely,\n{{ agent_name }}\n{{ company_name }}"),
    },
}

PLAYBOOKS = [
    # objective, excuse code or None, lang, title, points
    ("remind", None, "es", "Recordatorio cordial",
     "Saludo cordial, claro y directo; sin acusaciones\nConfirmar que conoce la deuda, el importe y el vencimiento\n"
     "Preguntar si hay algo que impida el pago\nOfrecer el enlace de pago y acordar una fecha"),
    ("remind", None, "en", "Friendly reminder",
     "Cordial, clear and direct greeting; no accusations\nConfirm they know the debt, the amount and the due date\n"
     "Ask whether anything prevents payment\nOffer the payment link and agree a date"),
    ("remove_barriers", None, "es", "Quitar lo que impide pagar",
     "Identificar exactamente qué falta de nuestro lado\nEnviarlo en la misma llamada o ese mismo día\n"
     "Confirmar que lo recibió\nPedir una fecha concreta de pago"),
    ("remove_barriers", None, "en", "Remove what blocks payment",
     "Find out exactly what is missing on our side\nSend it during the call or the same day\n"
     "Confirm it arrived\nAsk for a specific payment date"),
    ("get_commitment", None, "es", "Obtener un compromiso",
     "Distinguir argumento de excusa\nResponder a la excusa con opciones de pago\n"
     "Obtener importe, fecha y medio concretos\nRepetir el compromiso para confirmarlo"),
    ("get_commitment", None, "en", "Get a commitment",
     "Tell an argument from an excuse\nAnswer excuses with payment options\n"
     "Get a specific amount, date and method\nRepeat the commitment back to confirm it"),
    ("pressure", None, "es", "Anunciar la consecuencia",
     "Tono firme y respetuoso, sin amenazas ni coacción\nExplicar la consecuencia concreta y su fecha\n"
     "Ofrecer una última vía de acuerdo\nRegistrar todo lo dicho"),
    ("pressure", None, "en", "Announce the consequence",
     "Firm and respectful tone; no threats, no coercion\nExplain the specific consequence and its date\n"
     "Offer a last way to agree\nRecord everything said"),
    ("change_terms", None, "es", "Nuevas condiciones",
     "Notificar las nuevas condiciones con claridad\nProponer un plan de pagos con cuotas asumibles\n"
     "Flexible en lo accesorio, firme en lo fundamental"),
    ("change_terms", None, "en", "New terms",
     "State the new terms clearly\nPropose a payment plan with affordable instalments\n"
     "Flexible on the accessory, firm on the fundamental"),
    ("remove_barriers", "invoice_not_received", "es", "No ha recibido la factura",
     "Confirmar la dirección de envío y el contacto de cuentas a pagar\nReenviar la factura durante la llamada\n"
     "Pedir la fecha de pago una vez recibida"),
    ("remove_barriers", "invoice_not_received", "en", "Invoice not received",
     "Confirm the address and the accounts-payable contact\nResend the invoice during the call\n"
     "Ask for the payment date once it has arrived"),
    ("get_commitment", "no_funds", "es", "No tiene fondos ahora",
     "Empatía con firmeza: entender la situación sin renunciar a la solución\nOfrecer un plan de pagos dentro de los límites\n"
     "Acordar un primer pago aunque sea pequeño"),
    ("get_commitment", "no_funds", "en", "No funds right now",
     "Empathy with firmness: understand the situation, keep to the solution\nOffer a payment plan within the limits\n"
     "Agree a first payment, however small"),
]


def seed(apps, schema_editor):
    MessageTemplate = apps.get_model("contacts", "MessageTemplate")
    MessageTemplateVersion = apps.get_model("contacts", "MessageTemplateVersion")
    ExcuseCategory = apps.get_model("contacts", "ExcuseCategory")
    Playbook = apps.get_model("adminarea", "Playbook")
    PlanGuardrails = apps.get_model("adminarea", "PlanGuardrails")
    now = timezone.now()
    for objective, by_lang in LETTERS.items():
        for lang, (subject, body) in by_lang.items():
            template, created = MessageTemplate.objects.get_or_create(
                objective=objective, channel="letter", language=lang, name=f"Carta / Letter ({objective})"
            )
            if created:
                version = MessageTemplateVersion.objects.create(template=template, number=1, subject=subject, body=body, created_at=now)
                template.current_version = version
                template.save(update_fields=["current_version"])
    for objective, excuse, lang, title, points in PLAYBOOKS:
        category = ExcuseCategory.objects.filter(code=excuse).first() if excuse else None
        if excuse and category is None:
            continue
        Playbook.objects.get_or_create(
            objective=objective, excuse_category=category, language=lang, defaults={"title": title, "talking_points": points}
        )
    PlanGuardrails.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("adminarea", "0001_playbooks_guardrails"), ("contacts", "0002_seed_catalogues")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
