"""Initial catalogues (techniques, excuse categories) and message templates from the seeds."""

from django.db import migrations
from django.utils import timezone

TECHNIQUES = [
    # code, es, en, description es, description en
    ("avoid_excuses", "Evitar excusas", "Avoid excuses",
     "Distinguir argumento de excusa y responder a la excusa con opciones de pago.",
     "Tell an argument from an excuse; answer excuses with payment options."),
    ("dialogue", "Diálogo", "Dialogue", "Negociar, nunca coaccionar.", "Negotiate, never coerce."),
    ("technology", "Tecnología", "Technology", "Registrar todo y dejar que el sistema recuerde.",
     "Record everything; let the system remember."),
    ("preparation", "Preparación", "Preparation", "No dejar nada al azar: preparar la llamada y los argumentos.",
     "Leave nothing to chance: prepare the call and the arguments."),
    ("unified_criteria", "Criterios unificados", "Unified criteria",
     "Casos similares, negociaciones similares (guiones).", "Similar cases get similar negotiations (playbooks)."),
    ("personal_style", "Estilo personal", "Personal style", "Flexible en lo accesorio, firme en lo fundamental.",
     "Flexible on the accessory, firm on the fundamental."),
    ("empathy_firmness", "Empatía con firmeza", "Empathy with firmness", "Empático pero firme en llegar a una solución.",
     "Empathetic but firm about reaching a solution."),
    ("payment_options", "Ofrecer opciones de pago", "Offer payment options",
     "Planes de pago o reestructuración adaptados a la situación.", "Payment plans or restructuring that fit the situation."),
    ("assertive_first_contact", "Primer contacto asertivo", "Assertive first contact",
     "Cordial, claro y directo; sin acusaciones.", "Cordial, clear and direct; no accusations."),
]

EXCUSES = [
    # code, es, en, objective, is_barrier
    ("invoice_not_received", "No ha recibido la factura", "Invoice not received", "remove_barriers", True),
    ("tax_certificate_missing", "Falta certificado fiscal actualizado", "Updated tax certificate missing", "remove_barriers", True),
    ("wrong_ap_contact", "Contacto de cuentas a pagar incorrecto", "Wrong accounts-payable contact", "remove_barriers", True),
    ("withholding_receipt", "Falta comprobante de retención", "Withholding receipt missing", "remove_barriers", True),
    ("bank_details", "No tiene los datos bancarios", "Does not have the bank details", "remove_barriers", True),
    ("no_funds", "No tiene fondos ahora", "No funds right now", "get_commitment", False),
    ("waiting_for_income", "Espera un cobro para pagar", "Waiting for income to pay", "get_commitment", False),
    ("forgot", "Se le olvidó", "Forgot", "get_commitment", False),
    ("decision_maker_absent", "La persona que decide no está", "Decision maker not available", "get_commitment", False),
    ("disputes_amount", "No está de acuerdo con el importe", "Disagrees with the amount", "get_commitment", False),
    ("will_not_pay", "Se niega a pagar", "Refuses to pay", "pressure", False),
    ("other", "Otra", "Other", "get_commitment", False),
]

OPT_ES = "{{ opt_out_text }}"
TEMPLATES = {
    # objective: {lang: {channel: (subject, body)}}
    "remind": {
        "es": {
            "email": ("Recordatorio: saldo pendiente {{ case_reference }}",
                      "Estimado/a {{ debtor_name }}:\n\nHemos notado que su cuenta presenta un saldo pendiente de {{ amount_due }} "
                      "con {{ creditor_name }} (referencia {{ case_reference }}, vencimiento {{ due_date }}). Nuestro objetivo es "
                      "trabajar de manera conjunta para encontrar una solución que sea factible para ambas partes. Por favor, póngase "
                      "en contacto con nosotros para discutir su situación y explorar las opciones disponibles.\n\n"
                      "Puede pagar aquí: {{ payment_link }}\n\nAtentamente,\n\n{{ agent_name }}\n{{ company_name }}\n\n" + OPT_ES),
            "sms": ("", "{{ company_name }}: recordatorio de saldo pendiente de {{ amount_due }} (ref. {{ case_reference }}). "
                        "Pague en {{ payment_link }}. " + OPT_ES),
            "phone": ("", "Saludo cordial y presentación. Recordar el saldo de {{ amount_due }} vencido el {{ due_date }}. "
                          "Preguntar si hay algo que impida el pago. Ofrecer el enlace de pago y acordar una fecha."),
        },
        "en": {
            "email": ("Reminder: balance due {{ case_reference }}",
                      "Dear {{ debtor_name }},\n\nWe have noticed that your account shows an outstanding balance of {{ amount_due }} "
                      "with {{ creditor_name }} (reference {{ case_reference }}, due {{ due_date }}). Our aim is to work together to "
                      "find a solution that works for both sides. Please contact us to discuss your situation and the options "
                      "available.\n\nYou can pay here: {{ payment_link }}\n\nKind regards,\n\n{{ agent_name }}\n{{ company_name }}\n\n" + OPT_ES),
            "sms": ("", "{{ company_name }}: reminder of a balance of {{ amount_due }} (ref. {{ case_reference }}). "
                        "Pay at {{ payment_link }}. " + OPT_ES),
            "phone": ("", "Cordial greeting and introduction. Remind of the balance of {{ amount_due }} due {{ due_date }}. "
                          "Ask whether anything prevents payment. Offer the payment link and agree a date."),
        },
    },
    "remove_barriers": {
        "es": {
            "email": ("Le enviamos lo que necesita para el pago {{ case_reference }}",
                      "Estimado/a {{ debtor_name }}:\n\nSegún nos indicó, le faltaba documentación para tramitar el pago de {{ amount_due }}. "
                      "Le adjuntamos lo solicitado. Con ello, le agradecemos que nos confirme la fecha de pago.\n\n{{ agent_name }}\n{{ company_name }}\n\n" + OPT_ES),
            "sms": ("", "{{ company_name }}: le hemos enviado la documentación solicitada para el pago de {{ amount_due }}. " + OPT_ES),
            "phone": ("", "Confirmar que recibió la documentación (factura, certificado, contacto de cuentas a pagar). "
                          "Preguntar si falta algo más. Pedir fecha concreta de pago."),
        },
        "en": {
            "email": ("What you need to pay {{ case_reference }}",
                      "Dear {{ debtor_name }},\n\nAs you told us, some documents were missing to process the payment of {{ amount_due }}. "
                      "Please find them attached, and confirm the payment date.\n\n{{ agent_name }}\n{{ company_name }}\n\n" + OPT_ES),
            "sms": ("", "{{ company_name }}: we have sent the documents you asked for to pay {{ amount_due }}. " + OPT_ES),
            "phone": ("", "Confirm the documents arrived (invoice, certificate, accounts-payable contact). Ask whether anything "
                          "else is missing. Ask for a specific payment date."),
        },
    },
    "get_commitment": {
        "es": {
            "email": ("Confirmación de su compromiso de pago {{ case_reference }}",
                      "Estimado/a {{ debtor_name }}:\n\nNo vemos registrado el pago comprometido de {{ promise_amount }} para el {{ promise_date }}. "
                      "¿Cuándo lo realizará? Puede pagar en {{ payment_link }}.\n\n{{ agent_name }}\n{{ company_name }}\n\n" + OPT_ES),
            "sms": ("", "{{ company_name }}: no vemos su pago de {{ promise_amount }} previsto el {{ promise_date }}. ¿Cuándo lo hará? "
                        "{{ payment_link }} " + OPT_ES),
            "phone": ("", "Distinguir argumento de excusa. Ante una excusa, ofrecer opciones de pago. Obtener un compromiso "
                          "concreto: importe, fecha y medio. Repetirlo para confirmar."),
        },
        "en": {
            "email": ("Your payment commitment {{ case_reference }}",
                      "Dear {{ debtor_name }},\n\nWe do not see the payment of {{ promise_amount }} you committed to for {{ promise_date }}. "
                      "When will you make it? You can pay at {{ payment_link }}.\n\n{{ agent_name }}\n{{ company_name }}\n\n" + OPT_ES),
            "sms": ("", "{{ company_name }}: we do not see your payment of {{ promise_amount }} due {{ promise_date }}. When will you pay? "
                        "{{ payment_link }} " + OPT_ES),
            "phone": ("", "Tell an argument from an excuse. Answer excuses with payment options. Get a specific commitment: "
                          "amount, date and method. Repeat it back to confirm."),
        },
    },
    "pressure": {
        "es": {
            "email": ("Aviso: próximos pasos sobre su deuda {{ case_reference }}",
                      "Estimado/a {{ debtor_name }}:\n\nPese a nuestros contactos, el saldo de {{ amount_due }} sigue pendiente desde el "
                      "{{ due_date }}. Si no recibimos el pago o una propuesta en los próximos días, {{ creditor_name }} podrá iniciar "
                      "las acciones previstas en el contrato, conforme a la ley.\n\n{{ agent_name }}\n{{ company_name }}\n\n" + OPT_ES),
            "sms": ("", "{{ company_name }}: su saldo de {{ amount_due }} sigue pendiente. Contacte con nosotros para evitar "
                        "próximas acciones. " + OPT_ES),
            "phone": ("", "Tono firme y respetuoso. Anunciar la consecuencia concreta y su fecha (sin amenazas ni coacción). "
                          "Ofrecer una última vía de acuerdo."),
        },
        "en": {
            "email": ("Notice: next steps on your debt {{ case_reference }}",
                      "Dear {{ debtor_name }},\n\nDespite our contacts, the balance of {{ amount_due }} has been outstanding since "
                      "{{ due_date }}. Unless we receive payment or a proposal in the coming days, {{ creditor_name }} may take the "
                      "steps the contract provides for, within the law.\n\n{{ agent_name }}\n{{ company_name }}\n\n" + OPT_ES),
            "sms": ("", "{{ company_name }}: your balance of {{ amount_due }} is still outstanding. Contact us to avoid further "
                        "steps. " + OPT_ES),
            "phone": ("", "Firm and respectful tone. Announce the specific consequence and its date (no threats, no coercion). "
                          "Offer a last way to agree."),
        },
    },
    "change_terms": {
        "es": {
            "email": ("Nuevas condiciones de su cuenta {{ case_reference }}",
                      "Estimado/a {{ debtor_name }}:\n\nLe comunicamos que las condiciones de su cuenta con {{ creditor_name }} han "
                      "cambiado. El saldo pendiente es {{ amount_due }}. Podemos ofrecerle un plan de pagos: contacte con nosotros.\n\n"
                      "{{ agent_name }}\n{{ company_name }}\n\n" + OPT_ES),
            "sms": ("", "{{ company_name }}: las condiciones de su cuenta han cambiado. Saldo {{ amount_due }}. Le ofrecemos un plan "
                        "de pagos. " + OPT_ES),
            "phone": ("", "Notificar las nuevas condiciones (crédito retirado, servicio suspendido o deuda reestructurada). "
                          "Proponer un plan de pagos con cuotas asumibles."),
        },
        "en": {
            "email": ("New terms for your account {{ case_reference }}",
                      "Dear {{ debtor_name }},\n\nThe terms of your account with {{ creditor_name }} have changed. The balance due is "
                      "{{ amount_due }}. We can offer you a payment plan: please contact us.\n\n{{ agent_name }}\n{{ company_name }}\n\n" + OPT_ES),
            "sms": ("", "{{ company_name }}: the terms of your account have changed. Balance {{ amount_due }}. We can offer a "
                        "payment plan. " + OPT_ES),
            "phone": ("", "Notify the new terms (credit withdrawn, service suspended or debt restructured). Propose a payment "
                          "plan with affordable instalments."),
        },
    },
}

NAMES = {"email": "E-mail", "sms": "SMS", "phone": "Guion de llamada / Call script"}


def seed(apps, schema_editor):
    Technique = apps.get_model("contacts", "Technique")
    ExcuseCategory = apps.get_model("contacts", "ExcuseCategory")
    MessageTemplate = apps.get_model("contacts", "MessageTemplate")
    MessageTemplateVersion = apps.get_model("contacts", "MessageTemplateVersion")
    for pos, (code, es, en, des, den) in enumerate(TECHNIQUES):
        Technique.objects.update_or_create(
            code=code, defaults={"name_es": es, "name_en": en, "description_es": des, "description_en": den, "position": pos}
        )
    for pos, (code, es, en, objective, barrier) in enumerate(EXCUSES):
        ExcuseCategory.objects.update_or_create(
            code=code, defaults={"name_es": es, "name_en": en, "suggested_objective": objective, "is_barrier": barrier, "position": pos}
        )
    now = timezone.now()
    for objective, by_lang in TEMPLATES.items():
        for lang, by_channel in by_lang.items():
            for channel, (subject, body) in by_channel.items():
                template, created = MessageTemplate.objects.get_or_create(
                    objective=objective, channel=channel, language=lang, name=f"{NAMES[channel]} ({objective})"
                )
                if created:
                    version = MessageTemplateVersion.objects.create(
                        template=template, number=1, subject=subject, body=body, created_at=now
                    )
                    template.current_version = version
                    template.save(update_fields=["current_version"])


class Migration(migrations.Migration):
    dependencies = [("contacts", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
