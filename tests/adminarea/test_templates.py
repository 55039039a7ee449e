"""Template editing: injection and unknown placeholders refused with nothing written, versions,
rollback, diff, audit, and the htmx preview."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from collections_crm.audit.models import AuditLog
from contacts.models import MessageTemplate
from contacts.services import template_save_version
from contacts.templating import render_text

from ..factories import CaseFactory, DebtorFactory

pytestmark = pytest.mark.django_db

INJECTIONS = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% load static %}",
    "{% debug %}",
    "{{ settings.SECRET_KEY }}",
    "{{ settings }}",
    "{{ debtor_name|upper }}",
    "{{ request.user.password }}",
    "{# comment #}",
    "{{ __import__('os').system('id') }}",
    "{{ debtor_name }",
]


def reminder_es() -> MessageTemplate:
    return MessageTemplate.objects.get(objective="remind", channel="email", language="es", name="E-mail (remind)")


def _post_text(client, template, subject, body):
    return client.post(reverse("adminarea:template_edit", args=[template.pk]), {"subject": subject, "body": body})


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_attempts_are_refused_and_nothing_is_written(client, admin_user, payload):
    template = reminder_es()
    before = template.current_version
    client.force_login(admin_user)
    response = _post_text(client, template, "Hola", f"Hola {payload} {{{{ opt_out_text }}}}")
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["body"], form.errors
    template.refresh_from_db()
    assert template.current_version == before
    assert template.versions.count() == 1
    assert not AuditLog.objects.filter(action__startswith="template.").exists()


def test_unknown_placeholder_is_refused_with_its_name(client, admin_user):
    template = reminder_es()
    client.force_login(admin_user)
    response = _post_text(client, template, "Asunto {{ secret_field }}", "Hola {{ debtor_name }} {{ opt_out_text }}")
    assert "secret_field" in " ".join(response.context["form"].errors["subject"])
    assert template.versions.count() == 1


def test_missing_opt_out_line_in_sms_and_email_is_refused_but_letters_do_not_need_it(admin_user):
    sms = MessageTemplate.objects.get(objective="remind", channel="sms", language="en")
    with pytest.raises(ValidationError) as exc:
        template_save_version(actor=admin_user, template_id=sms.pk, subject="", body="Pay {{ amount_due }} now")
    assert "opt_out_text" in str(exc.value.message_dict["body"])
    letter = MessageTemplate.objects.get(objective="remind", channel="letter", language="en")
    version = template_save_version(actor=admin_user, template_id=letter.pk, subject="Reminder", body="Dear {{ debtor_name }}")
    assert version.number == 2


def test_rendering_is_plain_substitution_never_evaluation():
    # A value that looks like a placeholder is printed as is (single pass, no re-evaluation).
    text = render_text("Hola {{ debtor_name }}", {"debtor_name": "{{ company_name }} <b>"})
    assert text == "Hola {{ company_name }} <b>"
    assert render_text("Hola {{ debtor_name }}", {"debtor_name": "<b>"}, html=True) == "Hola &lt;b&gt;"


def test_saving_creates_a_new_version_with_author_and_audit(client, admin_user):
    template = reminder_es()
    client.force_login(admin_user)
    response = _post_text(client, template, "Nuevo asunto {{ case_reference }}", "Hola {{ debtor_name }}\n{{ opt_out_text }}")
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.current_version.number == 2
    assert template.current_version.created_by == admin_user
    assert template.versions.get(number=1).subject.startswith("Recordatorio")  # the old text is kept
    row = AuditLog.objects.get(action="template.version_saved")
    assert row.actor == admin_user and row.before["version"] == 1 and row.after["version"] == 2


def test_unchanged_text_is_not_a_new_version(admin_user):
    template = reminder_es()
    current = template.current_version
    with pytest.raises(ValidationError):
        template_save_version(actor=admin_user, template_id=template.pk, subject=current.subject, body=current.body)
    assert template.versions.count() == 1


def test_history_shows_diff_and_rollback_copies_old_version(client, admin_user):
    template = reminder_es()
    original = template.current_version
    template_save_version(actor=admin_user, template_id=template.pk, subject=original.subject,
                          body="Texto nuevo {{ debtor_name }}\n{{ opt_out_text }}")
    client.force_login(admin_user)
    page = client.get(reverse("adminarea:template_history", args=[template.pk])).content.decode()
    assert "+Texto nuevo {{ debtor_name }}" in page.replace("&#x27;", "'")
    assert "-Estimado/a {{ debtor_name }}:" in page

    response = client.post(reverse("adminarea:template_rollback", args=[template.pk, 1]))
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.current_version.number == 3
    assert (template.current_version.subject, template.current_version.body) == (original.subject, original.body)
    assert AuditLog.objects.get(action="template.rolled_back").after["rollback_of"] == 1


def test_preview_renders_on_a_case_and_counts_sms_segments(client, admin_user):
    case = CaseFactory(debtor=DebtorFactory(name="Ana Ruiz"), reference="REF-PREVIEW")
    sms = MessageTemplate.objects.get(objective="remind", channel="sms", language="es")
    client.force_login(admin_user)
    body = "Hola {{ debtor_name }}, ref {{ case_reference }}. " + "x" * 200 + " {{ opt_out_text }}"
    response = client.post(reverse("adminarea:template_preview", args=[sms.pk]), {"body": body, "case": case.pk},
                           HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "Hola Ana Ruiz, ref REF-PREVIEW." in html
    chars, segments = response.context["preview"]["sms_chars"], response.context["preview"]["sms_segments"]
    assert chars > 160 and segments == -(-chars // 153)  # GSM-7: 153 characters per concatenated segment
    assert f"{chars} caracteres · {segments} segmento(s) SMS" in html  # the Spanish interface
    # Problems are shown while typing, before any save.
    response = client.post(reverse("adminarea:template_preview", args=[sms.pk]), {"body": "{{ nope }}"})
    assert "nope" in response.content.decode()
    assert sms.versions.count() == 1


def test_letter_templates_exist_for_every_objective_in_both_languages():
    for objective in ("remind", "remove_barriers", "get_commitment", "pressure", "change_terms"):
        for language in ("es", "en"):
            for channel in ("email", "sms", "phone", "letter"):
                assert MessageTemplate.objects.filter(objective=objective, channel=channel, language=language,
                                                      current_version__isnull=False).exists(), (objective, channel, language)


# --- New templates ---------------------------------------------------------------------------------

NEW_SMS = {"name": "SMS recordatorio corto", "objective": "remind", "channel": "sms", "language": "es", "subject": "",
           "body": "Hola {{ debtor_name }}, su saldo es {{ amount_due }}. {{ opt_out_text }}"}


def test_admin_creates_a_template_with_its_first_version_and_audit(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("adminarea:template_new"), NEW_SMS)
    template = MessageTemplate.objects.get(name="SMS recordatorio corto")
    assert response.status_code == 302 and response.url == reverse("adminarea:template_edit", args=[template.pk])
    assert (template.objective, template.channel, template.language, template.active) == ("remind", "sms", "es", True)
    assert template.current_version.number == 1
    assert template.current_version.body == NEW_SMS["body"]
    actions = list(AuditLog.objects.filter(object_id=str(template.pk), object_type="contacts.messagetemplate")
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["template.created", "template.version_saved"]


@pytest.mark.parametrize(("change", "field"), [
    ({"body": "Hola {{ debtor_name }} {{ secret }} {{ opt_out_text }}"}, "body"),  # unknown placeholder
    ({"body": "Hola {% debug %} {{ opt_out_text }}"}, "body"),                     # template tag injection
    ({"body": "Hola {{ debtor_name }}"}, "body"),                                  # SMS without the opt-out line
    ({"name": "E-mail (remind)", "channel": "email", "subject": "Aviso"}, "name"), # name already used
    ({"channel": "fax"}, "channel"),
])
def test_bad_new_template_gets_a_field_error_and_writes_nothing(client, admin_user, change, field):
    client.force_login(admin_user)
    templates, audits = MessageTemplate.objects.count(), AuditLog.objects.count()
    response = client.post(reverse("adminarea:template_new"), {**NEW_SMS, **change})
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert MessageTemplate.objects.count() == templates
    assert AuditLog.objects.count() == audits


def test_only_admins_may_create_templates(client, supervisor):
    client.force_login(supervisor)
    assert client.get(reverse("adminarea:template_new")).status_code == 403
    assert client.post(reverse("adminarea:template_new"), NEW_SMS).status_code == 403
    assert not MessageTemplate.objects.filter(name=NEW_SMS["name"]).exists()
