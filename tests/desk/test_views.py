"""The agent workspace pages: who sees what, every action through htmx, bad input refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from cases.models import Barrier, Case, Instalment, Payment, PaymentPlan, PromiseToPay
from collections_crm.audit.models import AuditLog
from contacts.models import ContactAttempt, ExcuseCategory, Technique
from contacts.services import contact_attempt_log
from debtors.models import Debtor
from debtors.services import contact_point_add
from tests.factories import CaseFactory, ContactAttemptFactory, ContactPointFactory, PromiseFactory
from tests.text import said

HTMX = {"HTTP_HX_REQUEST": "true"}


def detail(case):
    return reverse("desk:detail", args=[case.pk])


def action(case, name, *args):
    return reverse(f"desk:{name}", args=[case.pk, *args])


# --- Access ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_case_page_is_404_for_anyone_who_may_not_see_it(login, case, teammate, outsider):
    for user in (teammate, outsider):
        assert login(user).get(detail(case)).status_code == 404
        assert login(user).post(action(case, "promise"), {"version": case.version}).status_code == 404
    assert Case.objects.get(pk=case.pk).version == case.version


@pytest.mark.django_db
def test_owner_supervisor_and_admin_see_the_case(login, case, agent, supervisor, admin_user):
    for user in (agent, supervisor, admin_user):
        response = login(user).get(detail(case))
        assert response.status_code == 200
        assert case.debtor.name in response.content.decode()


@pytest.mark.django_db
def test_case_header_names_the_aging_bucket_in_the_users_language(login, agent, case):
    Case.objects.filter(pk=case.pk).update(due_date=timezone.localdate() - dt.timedelta(days=45))
    client = login(agent)
    assert '<div class="fig">31–60 days</div>' in client.get(detail(case), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<div class="fig">31–60 días</div>' in client.get(detail(case), HTTP_ACCEPT_LANGUAGE="es").content.decode()


@pytest.mark.django_db
def test_teammate_sees_read_only_when_the_team_policy_says_so(login, case, team, teammate):
    team.agents_see_team_cases = True
    team.save()
    page = login(teammate).get(detail(case)).content.decode()
    assert 'data-testid="read-only"' in page
    assert 'data-testid="form-interaction"' not in page
    response = login(teammate).post(action(case, "promise"), {"version": case.version, "amount": "10", "due_date": "2099-01-01"})
    assert response.status_code == 404
    assert not PromiseToPay.objects.exists()


@pytest.mark.django_db
def test_only_supervisors_and_admins_reassign(login, case, agent, teammate, supervisor):
    response = login(agent).post(action(case, "reassign"), {"version": case.version, "agent": teammate.pk})
    assert response.status_code == 403
    response = login(supervisor).post(action(case, "reassign"), {"version": case.version, "agent": teammate.pk}, **HTMX)
    assert response.status_code == 200
    assert Case.objects.get(pk=case.pk).assigned_agent == teammate
    assert AuditLog.objects.filter(case_id=case.pk, action="case.assigned", actor=supervisor).exists()


# --- Queue ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_queue_shows_only_my_open_cases_in_priority_order(login, agent, teammate):
    now = timezone.now()
    today = timezone.localdate(now)
    later = CaseFactory(assigned_agent=agent, next_action_at=now + dt.timedelta(days=3), last_contact_at=now, balance=Decimal("900"))
    big_later = CaseFactory(assigned_agent=agent, next_action_at=now + dt.timedelta(days=3), last_contact_at=now,
                            original_amount=Decimal("5000"))
    never = CaseFactory(assigned_agent=agent, next_action_at=now + dt.timedelta(days=1), last_contact_at=None)
    promised = CaseFactory(assigned_agent=agent, next_action_at=now + dt.timedelta(days=1), last_contact_at=now)
    PromiseFactory(case=promised, due_date=today)
    due_recent = CaseFactory(assigned_agent=agent, next_action_at=now - dt.timedelta(hours=1), last_contact_at=now)
    due_old = CaseFactory(assigned_agent=agent, next_action_at=now - dt.timedelta(days=2), last_contact_at=now)
    CaseFactory(assigned_agent=agent, status="paid", balance=Decimal("0"))
    theirs = CaseFactory(assigned_agent=teammate)

    response = login(agent).get(reverse("desk:queue"))
    assert response.status_code == 200
    order = [case.pk for case, _contact in response.context["rows"]]
    assert order == [due_old.pk, due_recent.pk, promised.pk, never.pk, big_later.pk, later.pk]
    assert theirs.reference not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("list_limit", [20_000, 0])  # debtor ids as a list, and the subquery fallback
@pytest.mark.parametrize("term", ["reference", "document", "phone", "email", "name"])
def test_queue_search_finds_by_each_identifier(login, agent, term, list_limit, monkeypatch):
    monkeypatch.setattr("cases.selectors.SEARCH_DEBTOR_LIST_LIMIT", list_limit)
    target = CaseFactory(assigned_agent=agent)
    other = CaseFactory(assigned_agent=agent)
    phone = ContactPointFactory(debtor=target.debtor, value="+34612345678")
    ContactPointFactory(debtor=target.debtor, kind="email", value="pago@cliente.es")
    query = {
        "reference": target.reference.lower(),
        "document": target.debtor.document_number.lower(),
        "phone": "612 34 56 78",
        "email": "PAGO@cliente.es",
        "name": target.debtor.name.split()[0] + " " + target.debtor.name.split()[1][:3],
    }[term]
    assert phone.value == "+34612345678"
    rows = login(agent).get(reverse("desk:queue"), {"q": query}).context["rows"]
    found = [case.pk for case, _contact in rows]
    assert target.pk in found and other.pk not in found or term == "name" and target.pk in found


@pytest.mark.django_db
def test_admin_finds_a_debtor_in_the_whole_portfolio_by_name_substring(login, admin_user, agent, outsider):
    mine = CaseFactory(assigned_agent=agent, debtor__name="Rosalía Montenegro Ibáñez")
    theirs = CaseFactory(assigned_agent=outsider, debtor__name="Pedro Montenegro Sanz")
    CaseFactory(assigned_agent=agent, debtor__name="Luis Pérez Gil")
    CaseFactory(assigned_agent=agent, debtor__name="Ana Montenegro Ruiz", status="paid", balance=0)  # closed: not in the queue
    rows = login(admin_user).get(reverse("desk:queue"), {"q": "ontenegr"}).context["rows"]
    assert sorted(case.pk for case, _contact in rows) == sorted([mine.pk, theirs.pk])


@pytest.mark.django_db
def test_queue_filters_by_objective_aging_and_creditor(login, agent):
    today = timezone.localdate()
    fresh = CaseFactory(assigned_agent=agent, due_date=today - dt.timedelta(days=10), objective="remind")
    old = CaseFactory(assigned_agent=agent, due_date=today - dt.timedelta(days=200), objective="pressure")
    client = login(agent)

    def found(**params):
        return {case.pk for case, _c in client.get(reverse("desk:queue"), params).context["rows"]}

    assert found(aging="1-30") == {fresh.pk}
    assert found(aging="180+") == {old.pk}
    assert found(objective="pressure") == {old.pk}
    assert found(creditor=fresh.creditor_id) == {fresh.pk}
    assert found(sort="-balance") == {fresh.pk, old.pk}


@pytest.mark.django_db
def test_queue_query_count_does_not_grow_with_the_queue(login, agent, django_assert_num_queries):
    client = login(agent)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("desk:queue")).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(3):
        CaseFactory(assigned_agent=agent)
    small = count()
    for _ in range(30):
        case = CaseFactory(assigned_agent=agent)
        ContactAttemptFactory(case=case)
    assert count() == small
    # session, user, the user's team (may they see the team's cases?), count, the page's ids,
    # its rows (+debtor, creditor, agent joined),
    # creditors for the filter, the contact policy for the page (packs, debtors, contact
    # points, calls on the cases, contacts to the debtors) and the session save (savepoint,
    # update, release: SESSION_SAVE_EVERY_REQUEST)
    assert small <= 15


# --- Case page ------------------------------------------------------------------------------


def _history(case, n):
    ContactAttempt.objects.bulk_create(
        ContactAttempt(case=case, channel="phone", occurred_at=timezone.now() - dt.timedelta(hours=i), objective="remind",
                       outcome="no_answer", statement_kind="excuse" if i % 3 == 0 else "")
        for i in range(n)
    )
    technique = Technique.objects.first()
    for attempt in ContactAttempt.objects.filter(case=case)[:20]:
        attempt.techniques.add(technique)


@pytest.mark.django_db
def test_case_page_query_count_is_the_same_for_5_and_500_attempts(login, agent):
    client = login(agent)
    small, large = CaseFactory(assigned_agent=agent), CaseFactory(assigned_agent=agent)
    for case, n in ((small, 5), (large, 500)):
        ContactPointFactory(debtor=case.debtor)
        _history(case, n)
        for i in range(3):
            contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome="no_answer",
                                techniques=list(Technique.objects.all()[:2]), notes=f"n{i}")
        PromiseFactory(case=case)
        Barrier.objects.create(case=case, kind="invoice_copy", opened_at=timezone.now())

    def count(case):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(detail(case)).status_code == 200
        return len(ctx.captured_queries)

    assert count(small) == count(large)
    # session, user (+team), case (+debtor, creditor, agent), can-write check, contact points,
    # contact policy (5), timeline count + page + its attempts + their techniques + its promises
    # + barriers + audit rows + the audit rows of its domain rows (tests/desk/test_timeline.py),
    # preparation: statements, techniques + prefetch, promise counts, recent promises, open
    # barriers, live plan + instalments, the open form's choices (contact points, techniques,
    # excuse categories), the visit recorded for "portal activity since my last look" (1 upsert),
    # the self-service panel (link counts, newest links with their users, newest online payments,
    # newest files: 4, tests/desk/test_selfservice.py) and the session save (3).
    assert count(large) <= 38


@pytest.mark.django_db
def test_log_interaction_updates_the_workspace_in_place(login, agent, case):
    point = ContactPointFactory(debtor=case.debtor)
    technique = Technique.objects.get(code="avoid_excuses")
    excuse = ExcuseCategory.objects.get(code="no_funds")
    next_at = timezone.localtime() + dt.timedelta(days=2)
    response = login(agent).post(action(case, "log_interaction"), {
        "version": case.version, "channel": "phone", "direction": "outbound", "contact_point": point.pk,
        "objective": "get_commitment", "techniques": [technique.pk], "outcome": "excuse",
        "excuse_category": excuse.pk, "statement_kind": "excuse", "notes": "Dice que cobra el viernes",
        "next_step": "Llamar el viernes", "next_step_at": next_at.strftime("%Y-%m-%dT%H:%M"),
    }, **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="case-workspace"' in page and "<html" not in page
    assert "Llamar el viernes" in page and "Dice que cobra el viernes" in page
    attempt = ContactAttempt.objects.get(case=case)
    assert attempt.objective == "get_commitment" and list(attempt.techniques.all()) == [technique]
    assert attempt.agent == agent and attempt.contact_point == point
    case.refresh_from_db()
    assert "Llamar el viernes" in said(case.next_action_note) and case.version == 2
    assert AuditLog.objects.filter(case_id=case.pk, action="contact_attempt.logged").exists()


@pytest.mark.django_db
def test_interaction_objective_defaults_to_the_case_objective(login, agent, case):
    case.objective = "remove_barriers"
    case.save()
    form = login(agent).get(detail(case)).context["active_form"]
    assert form["objective"].value() == "remove_barriers"


@pytest.mark.django_db
@pytest.mark.parametrize("name,data,field", [
    ("promise", {"amount": "100", "due_date": "2001-01-01", "method": "transfer"}, "due_date"),
    ("promise", {"amount": "999999", "due_date": "2099-01-01", "method": "transfer"}, "amount"),
    ("payment", {"amount": "1000.01", "received_on": "today", "method": "transfer"}, "amount"),
    ("log_interaction", {"channel": "phone", "direction": "outbound", "objective": "remind", "outcome": "no_answer",
                         "notes": "x" * 4001}, "notes"),
    ("plan", {"total_amount": "1000", "instalment_count": "3", "frequency": "monthly", "first_date": "in_a_week",
              "amount_1": "400", "amount_2": "400", "amount_3": "100"}, None),
])
def test_bad_input_is_refused_with_a_message_and_nothing_is_written(login, agent, case, name, data, field):
    today = timezone.localdate()
    data = {k: {"today": today.isoformat(), "in_a_week": (today + dt.timedelta(days=7)).isoformat()}.get(v, v) for k, v in data.items()}
    audit_before = AuditLog.objects.count()
    response = login(agent).post(action(case, name), {"version": case.version, **data}, **HTMX)
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == f"#form-{'interaction' if name == 'log_interaction' else name}"
    form = response.context["form"]
    assert (form.errors.get(field) if field else form.non_field_errors() or form.errors)
    assert 'is-invalid' in response.content.decode() or 'data-testid="form-error"' in response.content.decode()
    assert AuditLog.objects.count() == audit_before
    assert not PromiseToPay.objects.exists() and not Payment.objects.exists() and not PaymentPlan.objects.exists()
    assert not ContactAttempt.objects.exists()
    assert Case.objects.get(pk=case.pk).version == case.version


@pytest.mark.django_db
def test_errors_come_in_the_users_language(login, agent, case):
    client = login(agent)
    response = client.post(action(case, "promise"), {"version": case.version, "amount": "", "due_date": "2099-01-01"},
                           HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert "This field is required." in response.content.decode()
    response = client.post(action(case, "promise"), {"version": case.version, "amount": "", "due_date": "2099-01-01"},
                           HTTP_ACCEPT_LANGUAGE="es", **HTMX)
    with translation.override("es"):
        spanish = gettext("This field is required.")
    assert spanish != "This field is required." and spanish in response.content.decode()


@pytest.mark.django_db
def test_second_save_on_a_stale_version_is_refused(login, agent, case):
    client = login(agent)
    opened = case.version
    due = (timezone.localdate() + dt.timedelta(days=5)).isoformat()
    first = client.post(action(case, "promise"), {"version": opened, "amount": "100", "due_date": due, "method": "transfer"}, **HTMX)
    assert first.status_code == 200 and PromiseToPay.objects.count() == 1
    second = client.post(action(case, "payment"), {"version": opened, "amount": "50", "received_on": timezone.localdate().isoformat(),
                                                    "method": "cash"}, **HTMX)
    page = second.content.decode()
    assert second.headers["HX-Retarget"] == "#form-payment"
    assert 'data-testid="reload"' in page
    assert "Someone else changed this case" in page or "Otra persona" in page or "otra persona" in page.lower() or "Alguien" in page
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_plan_preview_shows_the_schedule_and_saving_creates_it(login, agent, case):
    client = login(agent)
    first = timezone.localdate() + dt.timedelta(days=7)
    data = {"version": case.version, "total_amount": "1000.00", "instalment_count": "3", "frequency": "monthly",
            "first_date": first.isoformat(), "agreed": "on"}
    preview = client.post(action(case, "plan_preview"), data, **HTMX)
    assert [a for _n, _d, a in preview.context["schedule"]] == [Decimal("333.33"), Decimal("333.33"), Decimal("333.34")]
    assert not PaymentPlan.objects.exists()
    response = client.post(action(case, "plan"), {**data, "amount_1": "500", "amount_2": "250", "amount_3": "250"}, **HTMX)
    assert response.status_code == 200 and "HX-Retarget" not in response.headers
    plan = PaymentPlan.objects.get(case=case)
    assert [i.amount for i in Instalment.objects.filter(plan=plan)] == [Decimal("500"), Decimal("250"), Decimal("250")]
    assert Case.objects.get(pk=case.pk).status == "plan"


@pytest.mark.django_db
def test_barrier_open_and_resolve(login, agent, case):
    client = login(agent)
    client.post(action(case, "barrier"), {"version": case.version, "kind": "tax_certificate", "description": "2026"}, **HTMX)
    barrier = Barrier.objects.get(case=case)
    case.refresh_from_db()
    other = CaseFactory(assigned_agent=agent)
    foreign = Barrier.objects.create(case=other, kind="invoice_copy", opened_at=timezone.now())
    response = client.post(action(case, "barrier_remove", foreign.pk), {"version": case.version}, **HTMX)
    assert "HX-Retarget" in response.headers
    assert Barrier.objects.get(pk=foreign.pk).status == "open"
    client.post(action(case, "barrier_remove", barrier.pk), {"version": case.version}, **HTMX)
    assert Barrier.objects.get(pk=barrier.pk).status == "removed"


@pytest.mark.django_db
def test_flags_and_followup(login, agent, case):
    client = login(agent)
    point = ContactPointFactory(debtor=case.debtor)
    client.post(action(case, "restrict"), {"version": case.version, "action": "point_do_not_contact", "contact_point": point.pk}, **HTMX)
    point.refresh_from_db()
    assert point.do_not_contact
    case.refresh_from_db()
    when = timezone.localtime() + dt.timedelta(days=1)
    client.post(action(case, "followup"), {"version": case.version, "at": when.strftime("%Y-%m-%dT%H:%M"), "note": "Revisar"}, **HTMX)
    case.refresh_from_db()
    assert case.next_action_note == {"text": "Revisar"}
    client.post(action(case, "restrict"), {"version": case.version, "action": "dispute"}, **HTMX)
    assert Case.objects.get(pk=case.pk).status == "disputed"
    kinds = set(AuditLog.objects.filter(case_id=case.pk).values_list("action", flat=True))
    assert {"case.contact_restricted", "case.followup_scheduled", "case.status_changed"} <= kinds


@pytest.mark.django_db
def test_timeline_is_newest_first_paginated_and_filterable(login, agent, case):
    client = login(agent)
    for i in range(25):
        contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome="no_answer", notes=f"call {i}",
                            now=timezone.now() + dt.timedelta(seconds=i))
    PromiseFactory(case=case)
    from cases.services import promise_record
    promise_record(actor=agent, case_id=case.pk, amount=Decimal("10"), due_date=timezone.localdate() + dt.timedelta(days=2),
                   now=timezone.now() + dt.timedelta(minutes=5))
    page1 = client.get(reverse("desk:timeline", args=[case.pk]), **HTMX)
    entries = page1.context["timeline"]
    assert entries[0].action == "promise.recorded"
    assert [e.attempt.notes for e in entries if e.attempt][:2] == ["call 24", "call 23"]
    assert page1.context["timeline_page"].has_next()
    only = client.get(reverse("desk:timeline", args=[case.pk]), {"kind": "promise"}, **HTMX).context["timeline"]
    # The promise recorded by the service and the one written without it (no audit row).
    assert [e.action for e in only] == ["promise.recorded", "promise.recorded"]


@pytest.mark.django_db
def test_next_case_hands_out_my_most_urgent_case(login, agent):
    now = timezone.now()
    CaseFactory(assigned_agent=agent, next_action_at=now - dt.timedelta(hours=1))
    oldest = CaseFactory(assigned_agent=agent, next_action_at=now - dt.timedelta(days=1))
    response = login(agent).post(reverse("desk:next"))
    assert response.status_code == 302 and response.url == detail(oldest)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["promise", "plan", "payment", "barrier", "followup", "restrict"])
def test_each_action_form_loads_on_demand_for_those_who_may_act(login, agent, teammate, team, case, name):
    response = login(agent).get(reverse("desk:action_form", args=[case.pk, name]))
    assert response.status_code == 200
    assert f'id="form-{name}"' in response.content.decode()
    assert f'name="version" value="{case.version}"' in response.content.decode()
    team.agents_see_team_cases = True
    team.save()
    assert login(teammate).get(reverse("desk:action_form", args=[case.pk, name])).status_code == 404


@pytest.mark.django_db
def test_agents_cannot_load_the_reassign_form(login, agent, supervisor, case):
    assert login(agent).get(reverse("desk:action_form", args=[case.pk, "reassign"])).status_code == 404
    assert login(supervisor).get(reverse("desk:action_form", args=[case.pk, "reassign"])).status_code == 200


@pytest.mark.django_db
def test_home_links_due_cases_to_the_case_page(login, agent, case):
    case.next_action_at = timezone.now()
    case.save()
    assert detail(case) in login(agent).get(reverse("home")).content.decode()


@pytest.mark.django_db
def test_header_and_queue_show_the_contact_policy_answer(login, agent, case):
    case.debtor.do_not_contact = True
    case.debtor.save()
    ContactPointFactory(debtor=case.debtor, opted_out=True)
    client = login(agent)
    page = client.get(detail(case), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="contact-blocked"' in page and "Do not contact" in page
    assert 'data-testid="point-blocked"' in page and "Opted out" in page
    row = client.get(reverse("desk:queue"), HTTP_ACCEPT_LANGUAGE="en").context["rows"][0][1]
    assert row["callable"] is False and row["reason"] == "Do not contact"


@pytest.mark.django_db
def test_actions_work_without_javascript_too(login, agent, case):
    client = login(agent)
    due = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    response = client.post(action(case, "promise"), {"version": case.version, "amount": "50", "due_date": due, "method": "cash"})
    assert response.status_code == 302 and response.url == detail(case)
    case.refresh_from_db()
    response = client.post(action(case, "promise"), {"version": case.version, "amount": "50", "due_date": "2000-01-01", "method": "cash"})
    assert response.status_code == 400
    assert response.context["active_action"] == "promise" and response.context["active_form"].errors["due_date"]
    assert PromiseToPay.objects.count() == 1


@pytest.mark.django_db
def test_team_scope_shows_teammates_cases_only_when_the_policy_allows(login, agent, teammate, outsider, team):
    mine, theirs, foreign = CaseFactory(assigned_agent=agent), CaseFactory(assigned_agent=teammate), CaseFactory(assigned_agent=outsider)
    client = login(agent)

    def found(**params):
        return {case.pk for case, _c in client.get(reverse("desk:queue"), params).context["rows"]}

    assert found(scope="team") == {mine.pk}
    team.agents_see_team_cases = True
    team.save()
    assert found() == {mine.pk}
    assert found(scope="team") == {mine.pk, theirs.pk}
    assert foreign.pk not in found(scope="team")


@pytest.mark.django_db
def test_preparation_shows_the_admins_playbook_for_the_objective_and_last_excuse(login, agent):
    from contacts.models import Playbook

    no_funds = ExcuseCategory.objects.get(code="no_funds")
    Playbook.objects.filter(objective="get_commitment", language="es").delete()  # the seeded ones
    Playbook.objects.create(objective="get_commitment", excuse_category=no_funds, language="es",
                                       title="Sin fondos: fecha concreta", talking_points="- Pregunte cuándo cobra\n\n- Pida una fecha")
    Playbook.objects.create(objective="get_commitment", language="es", title="Compromiso genérico",
                            talking_points="Pida un compromiso")
    case = CaseFactory(assigned_agent=agent, objective="get_commitment")
    client = login(agent)
    with translation.override("es"):
        page = client.get(detail(case), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Compromiso genérico" in page and "Sin fondos" not in page
    ContactAttemptFactory(case=case, excuse_category=no_funds, statement_kind="excuse")
    page = client.get(detail(case), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Sin fondos: fecha concreta" in page
    assert "<li>Pregunte cuándo cobra</li><li>Pida una fecha</li>" in page


# --- Where the debtor may be ------------------------------------------------------------------

# Wednesday 25 November 2026: 08:30 in New York, 05:30 in Los Angeles.
NY_MORNING = dt.datetime(2026, 11, 25, 13, 30, tzinfo=dt.UTC)


def _uncertain(case, agent):
    Debtor.objects.filter(pk=case.debtor_id).update(country="US", timezone="America/New_York")
    case.debtor.refresh_from_db()
    contact_point_add(actor=agent, debtor=case.debtor, kind="phone", value="+14155550123")  # San Francisco
    contact_point_add(actor=agent, debtor=case.debtor, kind="phone", value="+12125550123")  # New York


@pytest.mark.django_db
def test_case_page_shows_every_candidate_zone_and_the_agent_confirms_one(login, agent, case):
    _uncertain(case, agent)
    client = login(agent)
    with time_machine.travel(NY_MORNING, tick=False):
        page = client.get(detail(case), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Uncertain: contact hours must hold in" in page
        assert "America/Los_Angeles (05:30)" in page and "America/New_York (08:30)" in page
        assert 'data-testid="form-debtor-timezone"' in page
        assert '<option value="America/New_York" selected>' in page and '<option value="Asia/Tokyo">' in page
        # Outside the hours in Los Angeles: not callable, from 08:00 there (11:00 in New York).
        assert 'data-testid="contact-blocked"' in page and "Wed 25 Nov, 11:00" in page
        spanish = client.get(detail(case), HTTP_ACCEPT_LANGUAGE="es").content.decode()
        assert "Incierta: el horario de contacto debe cumplirse en" in spanish

        response = client.post(action(case, "debtor_timezone"), {"timezone": "America/New_York"}, HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="case-workspace"' in page and "<html" not in page
    assert "Time zone: America/New_York (confirmed)" in page and "Uncertain" not in page
    assert 'data-testid="contact-ok"' in page
    debtor = Debtor.objects.get(pk=case.debtor_id)
    assert (debtor.timezone, debtor.timezone_confirmed, debtor.candidate_timezones) == ("America/New_York", True, "America/New_York")
    assert AuditLog.objects.filter(action="debtor.timezone_confirmed", object_id=str(debtor.pk), actor=agent).count() == 1


@pytest.mark.django_db
def test_only_those_who_may_act_on_the_case_confirm_the_zone(login, case, agent, team, teammate, outsider, supervisor):
    _uncertain(case, agent)
    team.agents_see_team_cases = True
    team.save()
    page = login(teammate).get(detail(case)).content.decode()
    assert 'data-testid="zones-uncertain"' in page and 'data-testid="form-debtor-timezone"' not in page
    for user in (teammate, outsider):
        assert login(user).post(action(case, "debtor_timezone"), {"timezone": "America/New_York"}).status_code == 404
    assert not Debtor.objects.get(pk=case.debtor_id).timezone_confirmed
    # The team's supervisor may, without JavaScript too.
    response = login(supervisor).post(action(case, "debtor_timezone"), {"timezone": "America/Los_Angeles"})
    assert response.status_code == 302 and response.url == detail(case)
    assert Debtor.objects.filter(pk=case.debtor_id, timezone="America/Los_Angeles", timezone_confirmed=True).exists()


@pytest.mark.django_db
def test_an_unknown_zone_is_refused_and_nothing_is_written(login, agent, case):
    _uncertain(case, agent)
    client = login(agent)
    response = client.post(action(case, "debtor_timezone"), {"timezone": "Mars/Olympus_Mons"}, **HTMX)
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#debtor-zones"
    assert 'data-testid="form-error"' in response.content.decode()
    response = client.post(action(case, "debtor_timezone"), {"timezone": "Mars/Olympus_Mons"})
    assert response.status_code == 400 and response.context["zones_form"].errors["timezone"]
    assert not Debtor.objects.get(pk=case.debtor_id).timezone_confirmed
    assert not AuditLog.objects.filter(action="debtor.timezone_confirmed").exists()


@pytest.mark.django_db
def test_queue_search_finds_by_a_prefix_of_the_reference_or_the_document(login, agent):
    """A partial reference ("XSS-000", any case) or the start of a document finds the case (#19)."""
    first = CaseFactory(assigned_agent=agent, reference="XSS-000123", debtor__document_number="12345678Z")
    second = CaseFactory(assigned_agent=agent, reference="xss-000456")
    other = CaseFactory(assigned_agent=agent, reference="ABC-XSS-000")
    client = login(agent)

    def found(term):
        return {case.pk for case, _c in client.get(reverse("desk:queue"), {"q": term}).context["rows"]}

    assert found("XSS-000") == {first.pk, second.pk}
    assert found("xss-0001") == {first.pk}
    assert found("XSS-000123") == {first.pk}  # the whole reference still works
    assert found("1234 5678") == {first.pk}  # a document's start, spaces as typed
    assert found("12345678z") == {first.pk}
    assert other.pk not in found("XSS") and found("ABC-") == {other.pk}
    assert found("XSS_000%") == set()  # LIKE wildcards are literal characters


@pytest.mark.django_db
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="pattern-ops indexes are PostgreSQL's")
def test_prefix_searches_are_served_by_an_index_on_postgresql(agent):
    """EXPLAIN on a few thousand rows: the reference and document prefixes use their
    pattern-ops indexes (cases 0011, debtors 0006), not a scan of every case."""
    from cases.selectors import case_search_q
    from tests.factories import CreditorFactory, DebtorFactory

    creditor, debtor = CreditorFactory(), DebtorFactory()
    today = timezone.localdate()
    Case.objects.bulk_create(
        Case(creditor=creditor, debtor=debtor, reference=f"R{n:06d}", original_amount=Decimal("100"), balance=Decimal("100"),
             due_date=today, placed_at=today, status="active")
        for n in range(5000)
    )
    Debtor.objects.bulk_create(
        Debtor(name=f"Deudor {n}", document_type="nie", document_number=f"X{n:07d}L", timezone="Europe/Madrid")
        for n in range(5000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cases_case")
        cursor.execute("ANALYZE debtors_debtor")
    plan = Case.objects.filter(reference__istartswith="R0012").explain()
    assert "case_reference_prefix_idx" in plan, plan
    plan = Debtor.objects.filter(document_number__startswith="X00012").explain()
    assert "debtor_document_prefix_idx" in plan, plan
    assert Case.objects.filter(case_search_q(term="r00123")).count() == 10
