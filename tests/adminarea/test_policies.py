"""Policies: every change checked as a whole, audited, all or nothing; export and import."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.guardrails import Limits, plan_needs_approval
from cases.models import PlanGuardrails
from collections_crm.adminarea import services
from collections_crm.adminarea.checks import PolicyInvalid, check_rules
from collections_crm.audit.models import AuditLog
from contacts.models import Cadence, CadenceStep, JurisdictionPack, Playbook, StrategyRule

ALL = {"remind", "remove_barriers", "get_commitment", "pressure", "change_terms"}


def rule(position, condition, objective, threshold=0, active=True, name=None, window_days=0, amount=None, creditor_id=None,
         debtor_kind=""):
    return {"position": position, "name": name or f"r{position}", "condition": condition, "threshold": threshold,
            "window_days": window_days, "amount": None if amount is None else Decimal(amount), "creditor_id": creditor_id,
            "debtor_kind": debtor_kind, "objective": objective, "active": active, "description": ""}


# --- Pure checks (no database) -----------------------------------------------------------------

def test_rules_after_the_fallback_are_unreachable():
    problems = check_rules([rule(1, "always", "remind"), rule(2, "refusal", "pressure")], objectives_with_steps=ALL)
    assert [(p.index, p.field) for p in problems] == [(1, "position")]


def test_a_missing_fallback_is_refused():
    problems = check_rules([rule(1, "refusal", "pressure")], objectives_with_steps=ALL)
    assert problems and problems[0].index is None


def test_same_condition_with_another_objective_contradicts():
    rules = [rule(1, "excuse_given", "get_commitment"), rule(2, "excuse_given", "pressure"), rule(3, "always", "remind")]
    problems = check_rules(rules, objectives_with_steps=ALL)
    assert [(p.index, p.field) for p in problems] == [(1, "objective")]
    assert "r1" in problems[0].message  # names the rule it contradicts


def test_a_higher_threshold_after_a_lower_one_is_unreachable_but_the_reverse_is_fine():
    covered = [rule(1, "days_past_due_at_least", "remind", 30), rule(2, "days_past_due_at_least", "pressure", 120),
               rule(3, "always", "remind")]
    assert [(p.index, p.field) for p in check_rules(covered, objectives_with_steps=ALL)] == [(1, "condition")]
    ordered = [covered[1] | {"position": 1}, covered[0] | {"position": 2}, covered[2]]
    assert check_rules(ordered, objectives_with_steps=ALL) == []


def test_inactive_rules_do_not_shadow_and_threshold_rules_need_n():
    rules = [rule(1, "always", "remind", active=False), rule(2, "broken_promises_at_least", "pressure", 0), rule(3, "always", "remind")]
    assert [(p.index, p.field) for p in check_rules(rules, objectives_with_steps=ALL)] == [(1, "threshold")]


def test_a_rule_to_an_objective_without_cadence_steps_is_refused():
    problems = check_rules([rule(1, "always", "pressure")], objectives_with_steps={"remind"})
    assert [(p.index, p.field) for p in problems] == [(0, "objective")]


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, 0),
        ({"instalment_count": 18}, 2),  # too many instalments and too long
        ({"total_amount": Decimal("200.00"), "instalment_count": 10}, 1),  # 20 € instalments
        ({"discount_amount": Decimal("150.00")}, 1),  # 15 % of 1000
        ({"discount_amount": Decimal("100.00")}, 0),  # exactly 10 %
        ({"first_due_date": dt.date(2026, 6, 1), "instalment_count": 12}, 1),  # ends beyond 12 months
        ({"total_amount": Decimal("20.00"), "instalment_count": 1}, 0),  # one small payment of all is fine
    ],
)
def test_plan_needs_approval(kwargs, expected):
    args = {"limits": Limits(Decimal("30"), 12, 12, Decimal("10")), "balance": Decimal("1000.00"),
            "total_amount": Decimal("1000.00"), "discount_amount": Decimal("0"), "instalment_count": 6,
            "frequency": "monthly", "first_due_date": dt.date(2026, 1, 10), "today": dt.date(2026, 1, 1)} | kwargs
    assert len(plan_needs_approval(**args)) == expected


@pytest.mark.parametrize("language, day, amount", [("es", "01/05/2027", "20,00"), ("en", "05/01/2027", "20.00")])
def test_plan_approval_reasons_read_in_the_users_language(language, day, amount):
    from django.utils import translation

    args = {"limits": Limits(Decimal("30"), 12, 12, Decimal("10")), "balance": Decimal("1000.00"),
            "total_amount": Decimal("200.00"), "discount_amount": Decimal("0"), "instalment_count": 10,
            "frequency": "monthly", "first_due_date": dt.date(2026, 8, 1), "today": dt.date(2026, 1, 1)}
    with translation.override(language):
        reasons = " ".join(plan_needs_approval(**args))
    assert day in reasons and amount in reasons, reasons


# --- Services and pages ------------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


def _rule_rows():
    return [{**{f: getattr(r, f) for f in services.RULE_FIELDS}, "id": r.pk} for r in StrategyRule.objects.order_by("position")]


def _rule_post(i: int, r: StrategyRule) -> dict:
    """The editor's row ``i`` as the browser posts it for the stored rule ``r``."""
    return {f"rules-{i}-id": r.pk, f"rules-{i}-position": r.position, f"rules-{i}-name": r.name,
            f"rules-{i}-condition": r.condition, f"rules-{i}-threshold": r.threshold, f"rules-{i}-window_days": r.window_days,
            f"rules-{i}-amount": "" if r.amount is None else str(r.amount), f"rules-{i}-creditor": r.creditor_id or "",
            f"rules-{i}-debtor_kind": r.debtor_kind, f"rules-{i}-objective": r.objective,
            **({f"rules-{i}-active": "on"} if r.active else {}), f"rules-{i}-description": r.description}


@pytest.mark.django_db
def test_rules_page_refuses_an_unreachable_rule_with_a_field_error_and_writes_nothing(client, admin_user):
    client.force_login(admin_user)
    rules = list(StrategyRule.objects.order_by("position"))
    data = {"rules-TOTAL_FORMS": len(rules) + 1, "rules-INITIAL_FORMS": len(rules), "rules-MIN_NUM_FORMS": 0, "rules-MAX_NUM_FORMS": 1000}
    for i, r in enumerate(rules):
        data |= _rule_post(i, r)
    n = len(rules)
    data |= {f"rules-{n}-position": 999, f"rules-{n}-name": "Too late", f"rules-{n}-condition": "days_past_due_at_least",
             f"rules-{n}-threshold": 365, f"rules-{n}-window_days": 0, f"rules-{n}-objective": "pressure", f"rules-{n}-active": "on"}
    response = client.post(reverse("adminarea:rules"), data)
    assert response.status_code == 200
    errors = response.context["formset"].forms[n].errors
    # Unreachable: the earlier 120-days rule already matches every case 365 days past due.
    assert StrategyRule.objects.get(position=80).name in " ".join(e for field_errors in errors.values() for e in field_errors)
    assert StrategyRule.objects.count() == n
    assert not AuditLog.objects.filter(action__startswith="strategy_rule").exists()

    # The same row placed before the fallback is accepted, audited and effective.
    data[f"rules-{n}-position"] = 5
    response = client.post(reverse("adminarea:rules"), data)
    assert response.status_code == 302
    assert StrategyRule.objects.filter(name="Too late", position=5).exists()
    assert AuditLog.objects.filter(action="strategy_rule.created", actor=admin_user).count() == 1


@pytest.mark.django_db
def test_empty_cadence_is_refused_and_the_old_steps_stay(admin_user):
    cadence = Cadence.objects.get(objective="remind")
    count = cadence.steps.count()
    with pytest.raises(PolicyInvalid):
        services.cadence_save(actor=admin_user, cadence_id=cadence.pk, name="x", repeat_every_days=7, description="", steps=[])
    assert cadence.steps.count() == count


@pytest.mark.django_db
def test_cadence_steps_are_updated_in_place_and_an_automatic_call_is_refused(admin_user):
    cadence = Cadence.objects.get(objective="remind")
    steps = [{"id": s.pk, **{f: getattr(s, f) for f in services.STEP_FIELDS}} for s in cadence.steps.all()]
    first_id = steps[0]["id"]
    bad = [dict(steps[0]), {**steps[2], "kind": "automatic"}]
    with pytest.raises(PolicyInvalid) as exc:
        services.cadence_save(actor=admin_user, cadence_id=cadence.pk, name="Remind", repeat_every_days=7, description="", steps=bad)
    assert [(p.index, p.field) for p in exc.value.problems] == [(1, "kind")]
    steps.reverse()  # the order is the admin's; positions are renumbered
    steps[0]["delay_days"], steps[2]["delay_days"] = 0, 5
    steps.append({"id": None, "delay_days": 9, "send_time": dt.time(11), "channel": "email", "kind": "automatic",
                  "template_id": None, "instructions": "", "is_consequence": False})
    services.cadence_save(actor=admin_user, cadence_id=cadence.pk, name="Remind", repeat_every_days=7, description="", steps=steps)
    assert list(cadence.steps.values_list("position", "delay_days")) == [(0, 0), (1, 3), (2, 5), (3, 9)]
    assert CadenceStep.objects.filter(pk=first_id, position=2).exists()
    assert AuditLog.objects.filter(action="cadence_step.created").count() == 1


@pytest.mark.django_db
def test_pack_sharing_a_country_or_bad_weekdays_is_refused_on_the_field(client, admin_user):
    client.force_login(admin_user)
    pack = JurisdictionPack.objects.get(code="mx")
    data = {f: getattr(pack, f) for f in services.PACK_FIELDS}
    data |= {"countries": "MX,es", "weekdays": "1,2,9", "start_time": "07:00", "end_time": "22:00"}
    data = {k: ("on" if v is True else "" if v in (None, False) else v) for k, v in data.items()}
    response = client.post(reverse("adminarea:pack_edit", args=[pack.pk]), data)
    errors = response.context["form"].errors
    assert "ES" in " ".join(errors["countries"]) and errors["weekdays"]
    pack.refresh_from_db()
    assert pack.countries == "MX"
    data |= {"countries": "MX,GT", "weekdays": "1,2,3,4,5,6"}
    assert client.post(reverse("adminarea:pack_edit", args=[pack.pk]), data).status_code == 302
    pack.refresh_from_db()
    assert (pack.countries, pack.weekdays) == ("MX,GT", "1,2,3,4,5,6")
    assert AuditLog.objects.get(action="jurisdiction_pack.updated").after == {"countries": "MX,GT", "weekdays": "1,2,3,4,5,6"}


@pytest.mark.django_db
def test_guardrails_edit_validates_and_audits(client, admin_user):
    client.force_login(admin_user)
    url = reverse("adminarea:guardrails")
    bad = {"min_instalment": "0", "max_instalments": "12", "max_term_months": "12", "max_discount_percent": "150"}
    response = client.post(url, bad)
    assert response.status_code == 200 and response.context["form"].errors
    good = bad | {"min_instalment": "50.00", "max_discount_percent": "5"}
    assert client.post(url, good).status_code == 302
    row = PlanGuardrails.current()
    assert (row.min_instalment, row.max_discount_percent, row.updated_by) == (Decimal("50.00"), Decimal("5.00"), admin_user)
    assert AuditLog.objects.filter(action="guardrails.updated").count() == 1


@pytest.mark.django_db
def test_export_then_import_moves_policies_between_installations(client, admin_user):
    client.force_login(admin_user)
    exported = json.loads(client.get(reverse("adminarea:policies_export")).content)
    assert exported["format"] == "cobrocrm-policies" and exported["strategy_rules"] and exported["cadences"]

    # The "other installation" differs: a changed guardrail, a changed rule, an extra playbook.
    exported["guardrails"]["max_instalments"] = 24
    exported["followup_settings"]["promise_grace_days"] = 3
    exported["strategy_rules"][0]["name"] = "Imported name"
    exported["playbooks"].append({"objective": "pressure", "excuse_category": "will_not_pay", "language": "es",
                                  "title": "Se niega a pagar", "talking_points": "Firmeza\nSin coacción", "active": True})
    upload = SimpleUploadedFile("p.json", json.dumps(exported).encode(), content_type="application/json")
    response = client.post(reverse("adminarea:policies_import"), {"file": upload}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["success"]
    assert PlanGuardrails.current().max_instalments == 24
    from contacts.models import FollowUpSettings

    assert FollowUpSettings.objects.get(pk=1).promise_grace_days == 3
    assert StrategyRule.objects.order_by("position").first().name == "Imported name"
    assert Playbook.objects.filter(excuse_category__code="will_not_pay").exists()
    assert AuditLog.objects.filter(action="guardrails.updated", actor=admin_user).exists()


@pytest.mark.django_db
def test_import_of_an_invalid_file_writes_nothing(client, admin_user):
    client.force_login(admin_user)
    exported = services.policies_export()
    exported["guardrails"]["max_instalments"] = 99
    exported["strategy_rules"] = [r for r in exported["strategy_rules"] if r["condition"] != "always"]  # no fallback
    upload = SimpleUploadedFile("p.json", json.dumps(exported).encode())
    response = client.post(reverse("adminarea:policies_import"), {"file": upload}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert PlanGuardrails.current().max_instalments == 12
    assert not AuditLog.objects.exists()
    for junk in (b"not json", b'{"format": "other"}', json.dumps({**exported, "cadences": [{"objective": "remind"}]}).encode()):
        response = client.post(reverse("adminarea:policies_import"), {"file": SimpleUploadedFile("p.json", junk)}, follow=True)
        assert response.status_code == 200
    assert not AuditLog.objects.exists()


@pytest.mark.django_db
def test_catalogue_and_playbook_edits_are_audited(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("adminarea:excuse_new"), {
        "code": "lost_job", "name_es": "Ha perdido el empleo", "name_en": "Lost their job", "suggested_objective": "change_terms",
        "position": 20, "active": "on"})
    assert response.status_code == 302
    response = client.post(reverse("adminarea:excuse_new"), {"code": "lost_job", "name_es": "x", "name_en": "x",
                                                             "suggested_objective": "remind", "position": 1})
    assert response.context["form"].errors["code"]
    page = client.get(reverse("adminarea:catalogues")).content.decode()
    assert "Ha perdido el empleo" in page or "Lost their job" in page
    assert AuditLog.objects.filter(action="excuse_category.created").count() == 1


@pytest.mark.django_db
def test_playbook_for_prefers_the_excuse_specific_one():
    from contacts.models import ExcuseCategory
    from contacts.selectors import playbook_for

    no_funds = ExcuseCategory.objects.get(code="no_funds")
    forgot = ExcuseCategory.objects.get(code="forgot")
    assert playbook_for(objective="get_commitment", language="es", excuse_category_id=no_funds.pk).excuse_category == no_funds
    assert playbook_for(objective="get_commitment", language="en", excuse_category_id=forgot.pk).excuse_category is None
    Playbook.objects.filter(objective="remind", language="es").update(active=False)
    assert playbook_for(objective="remind", language="es") is None


@pytest.mark.django_db
def test_promise_follow_up_settings_refuse_a_template_of_another_channel(client, admin_user):
    from contacts.models import FollowUpSettings, MessageTemplate

    client.force_login(admin_user)
    email = MessageTemplate.objects.get(objective="get_commitment", channel="email", language="es")
    data = {"promise_grace_days": 2, "reminder_days_before": 1, "reminder_channel": "sms", "reminder_template": email.pk,
            "missed_instalments_to_default": 2, "paused_commitments": "shift"}
    response = client.post(reverse("adminarea:followup_settings"), data)
    assert response.context["form"].errors["reminder_template"]
    assert FollowUpSettings.objects.get(pk=1).promise_grace_days == 1
    data |= {"reminder_channel": "email"}
    assert client.post(reverse("adminarea:followup_settings"), data).status_code == 302
    row = FollowUpSettings.objects.get(pk=1)
    assert (row.promise_grace_days, row.reminder_template_id) == (2, email.pk)
    assert AuditLog.objects.filter(action="followup_settings.updated", actor=admin_user).exists()


@pytest.mark.django_db
def test_cadence_page_deletes_a_step_leaving_the_empty_row_untouched(client, admin_user):
    """What the browser sends: every field as rendered (the empty extra row keeps its default
    10:00), one step marked for deletion. The untouched row must not count as a new step."""
    cadence = Cadence.objects.get(objective="get_commitment")
    _first, *rest = cadence.steps.order_by("position")
    client.force_login(admin_user)
    url = reverse("adminarea:cadence_edit", args=[cadence.pk])
    page = client.get(url)
    data = {}
    formset = page.context["formset"]
    for bound in [*page.context["form"], *formset.management_form, *(f for form in formset.forms for f in form)]:
        value = bound.value()
        if isinstance(value, dt.time):
            value = value.strftime("%H:%M")
        if value is not None and value is not False:
            data[bound.html_name] = "on" if value is True else value
    data["steps-0-DELETE"] = "on"

    response = client.post(url, data)

    assert response.status_code == 302, [f.errors for f in response.context["formset"].forms]
    assert list(cadence.steps.order_by("position").values_list("pk", flat=True)) == [s.pk for s in rest]
