"""A form that breaks a database constraint says so in words beside the field, in the user's
language, and never shows the constraint's raw name (#19: «No se cumple la restricción
"pack_hours_ordered"» on the contact-policy form).

The constraints a form can reach are those whose every field is on a ModelForm: the contact
policy's hours and single default, the guardrails' four limits, the follow-up settings' default
threshold, the cadence's repeat and the playbooks' two uniqueness rules. The others hold
values a form cannot produce (choices, the singleton row, amounts the services compute) or
fields no form edits; unconditional unique constraints and unique fields already get Django's
"… with this … already exists"."""

from __future__ import annotations

import pytest
from django.urls import reverse

from collections_crm.adminarea import services
from collections_crm.adminarea.forms import CadenceForm
from contacts.models import Cadence, JurisdictionPack, Playbook

pytestmark = pytest.mark.django_db

CONSTRAINT_NAMES = [
    "pack_hours_ordered", "pack_one_default", "guardrails_min_instalment_positive", "guardrails_max_instalments_positive",
    "guardrails_term_positive", "guardrails_discount_range", "settings_default_after_positive", "cadence_repeat_positive",
    "playbook_unique_per_excuse", "playbook_unique_generic",
]


def _post_data(values: dict) -> dict:
    return {k: ("on" if v is True else "" if v in (None, False) else str(v)) for k, v in values.items()}


def _pack_data(**changes) -> dict:
    pack = JurisdictionPack.objects.get(code="mx")
    values = {f: getattr(pack, f) for f in services.PACK_FIELDS} | {"code": "nuevo", "name": "Nuevo", "countries": "GT"}
    values |= {"start_time": "08:00", "end_time": "21:00"}
    return _post_data(values | changes)


def _guardrails(**changes) -> dict:
    return {"min_instalment": "30", "max_instalments": "12", "max_term_months": "12", "max_discount_percent": "10"} | changes


def _followup(**changes) -> dict:
    from contacts.models import FollowUpSettings

    row = FollowUpSettings.objects.first() or FollowUpSettings()
    values = {f: getattr(row, f) for f in ["promise_grace_days", "reminder_days_before", "reminder_channel",
                                            "missed_instalments_to_default", "paused_commitments"]}
    values["reminder_template"] = row.reminder_template_id
    return _post_data(values | changes)


def _playbook(**changes) -> dict:
    return _post_data({"objective": "remind", "excuse_category": "", "language": "es", "title": "Otro",
                       "talking_points": "- Uno", "active": True} | changes)


CASES = [
    # (page, its data, the field the message belongs to, words of the Spanish message)
    ("adminarea:pack_new", lambda: _pack_data(start_time="21:00", end_time="08:00"), "end_time", "terminar después de empezar"),
    ("adminarea:pack_new", lambda: _pack_data(start_time="09:00", end_time="09:00"), "end_time", "terminar después de empezar"),
    ("adminarea:pack_new", lambda: _pack_data(is_default=True), "is_default", "ya es la predeterminada"),
    ("adminarea:guardrails", lambda: _guardrails(min_instalment="0"), "min_instalment", "mayor que cero"),
    ("adminarea:guardrails", lambda: _guardrails(max_instalments="0"), "max_instalments", "al menos una cuota"),
    ("adminarea:guardrails", lambda: _guardrails(max_term_months="0"), "max_term_months", "al menos un mes"),
    ("adminarea:guardrails", lambda: _guardrails(max_discount_percent="150"), "max_discount_percent", "entre 0 y 100"),
    ("adminarea:followup_settings", lambda: _followup(missed_instalments_to_default="0"), "missed_instalments_to_default",
     "al menos una cuota"),
    ("adminarea:playbook_new", lambda: _playbook(), "excuse_category", "ya tiene un guion general"),
    ("adminarea:playbook_new", lambda: _playbook(excuse_category="__excuse__"), "excuse_category", "ya tiene un guion"),
]


@pytest.mark.parametrize(("url_name", "data", "field", "words"), CASES)
def test_each_constraint_a_form_can_break_gives_a_field_message(client, admin_user, url_name, data, field, words):
    JurisdictionPack.objects.filter(code="es").update(is_default=True)  # one default exists
    # The seeded playbooks, or ones made here: a general one and one for an excuse, for remind in Spanish.
    if not Playbook.objects.filter(objective="remind", language="es", excuse_category__isnull=True).exists():
        Playbook.objects.create(objective="remind", language="es", title="General", talking_points="- Uno")
    with_excuse = Playbook.objects.filter(objective="remind", language="es", excuse_category__isnull=False).first()
    if with_excuse is None:
        with_excuse = Playbook.objects.create(objective="remind", language="es", title="Factura", talking_points="- Uno",
                                              excuse_category=_an_excuse())
    values = data()
    if values.get("excuse_category") == "__excuse__":
        values["excuse_category"] = str(with_excuse.excuse_category_id)
    client.force_login(admin_user)
    before = (JurisdictionPack.objects.count(), Playbook.objects.count())
    response = client.post(reverse(url_name), values, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200, "the bad input was saved"
    form = response.context["form"]
    assert field in form.errors and words in " ".join(form.errors[field]), form.errors
    assert not form.non_field_errors()
    page = response.content.decode()
    assert not any(name in page for name in CONSTRAINT_NAMES) and "restricción" not in page
    assert (JurisdictionPack.objects.count(), Playbook.objects.count()) == before


def test_the_cadence_form_says_why_a_repeat_of_zero_days_is_refused(admin_user):
    from django.utils import translation

    cadence = Cadence.objects.get(objective="remind")
    with translation.override("en"):
        form = CadenceForm({"name": cadence.name, "repeat_every_days": "0", "description": ""}, instance=cadence)
        assert not form.is_valid()
        assert form.errors["repeat_every_days"] == ["The last step must repeat at least every day."]
    assert "cadence_repeat_positive" not in str(form.errors)


def test_messages_read_in_english_too(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("adminarea:pack_new"), _pack_data(start_time="21:00", end_time="08:00"),
                           HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["form"].errors["end_time"] == ["Contact must end after it starts: make “until” later than “from”."]


def _an_excuse():
    from contacts.models import ExcuseCategory

    return ExcuseCategory.objects.order_by("pk").first()
