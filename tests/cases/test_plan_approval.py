"""Proposed payment plans: the debtor agrees (agent, within the guardrails), a supervisor approves
what is beyond them, anyone who may act on the case rejects or cancels; the supervisor's inbox."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cases.models import Case, PaymentPlan
from cases.services import plan_agree, plan_cancel, plan_create, plan_schedule
from collections_crm.audit.models import AuditLog
from tests.factories import CaseFactory

D = Decimal
pytestmark = pytest.mark.django_db


def propose(actor, case, *, count: int, total: str = "900"):
    first = timezone.localdate() + dt.timedelta(days=3)
    rows = [(d, a) for _n, d, a in plan_schedule(total=D(total), count=count, frequency="monthly", first_date=first)]
    return plan_create(actor=actor, case_id=case.pk, total_amount=D(total), frequency="monthly", instalments=rows, agreed=False)


def make_case(agent):
    return CaseFactory(assigned_agent=agent, original_amount=D("1000"), fees=D("0"), balance=D("1000"))


def test_agent_agrees_a_plan_within_the_guardrails(agent):
    case = make_case(agent)
    plan = propose(agent, case, count=3)
    assert plan.status == "proposed" and Case.objects.get(pk=case.pk).status != "plan"
    plan_agree(actor=agent, plan_id=plan.pk)
    plan.refresh_from_db()
    assert plan.status == "active" and plan.approved_by is None
    assert Case.objects.get(pk=case.pk).status == "plan"
    assert AuditLog.objects.filter(object_id=str(plan.pk), action="plan.agreed").count() == 1


def test_a_plan_beyond_the_guardrails_needs_a_supervisor(agent, supervisor):
    case = make_case(agent)
    plan = propose(agent, case, count=18)  # 18 instalments > 12, and 17 months > 12
    audits = AuditLog.objects.count()
    with pytest.raises(ValidationError, match="supervisor"):
        plan_agree(actor=agent, plan_id=plan.pk)
    plan.refresh_from_db()
    assert plan.status == "proposed" and AuditLog.objects.count() == audits
    plan_agree(actor=supervisor, plan_id=plan.pk)
    plan.refresh_from_db()
    assert plan.status == "active" and plan.approved_by == supervisor
    row = AuditLog.objects.get(object_id=str(plan.pk), action="plan.approved")
    assert row.actor == supervisor and len(row.after["beyond_guardrails"]) == 2
    with pytest.raises(ValidationError):
        plan_agree(actor=supervisor, plan_id=plan.pk)  # already live


def test_cancel_needs_a_reason_and_frees_the_case_for_a_new_plan(agent):
    case = make_case(agent)
    plan = propose(agent, case, count=3)
    plan_agree(actor=agent, plan_id=plan.pk)
    with pytest.raises(ValidationError) as exc:
        plan_cancel(actor=agent, plan_id=plan.pk, reason="  ")
    assert "reason" in exc.value.message_dict
    plan_cancel(actor=agent, plan_id=plan.pk, reason="Ha perdido el empleo")
    plan.refresh_from_db()
    assert plan.status == "cancelled"
    assert Case.objects.get(pk=case.pk).status == "active"
    assert AuditLog.objects.get(object_id=str(plan.pk), action="plan.cancelled").after["reason"] == "Ha perdido el empleo"
    assert propose(agent, case, count=2).status == "proposed"  # no live plan is left in the way


def test_inbox_lists_the_teams_proposed_plans_with_their_reasons(login, agent, supervisor, outsider):
    mine_within = propose(agent, make_case(agent), count=3)
    mine_beyond = propose(agent, make_case(agent), count=18)
    other = propose(outsider, make_case(outsider), count=3)
    client = login(supervisor)
    response = client.get(reverse("desk:plan_inbox"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    rows = {r["plan"].pk: r["reasons"] for r in response.context["rows"]}
    assert set(rows) == {mine_within.pk, mine_beyond.pk}
    assert rows[mine_within.pk] == [] and len(rows[mine_beyond.pk]) == 2
    page = response.content.decode()
    assert f'data-testid="plan-row-{other.pk}"' not in page
    # Approve from the inbox: back to the inbox, the plan is live.
    inbox = reverse("desk:plan_inbox")
    response = client.post(reverse("desk:plan_agree", args=[mine_beyond.case_id, mine_beyond.pk]), {"next": inbox})
    assert response.status_code == 302 and response.url == inbox
    assert PaymentPlan.objects.get(pk=mine_beyond.pk).status == "active"
    # Another team's plan: 404, nothing changes.
    response = client.post(reverse("desk:plan_cancel", args=[other.case_id, other.pk]), {"reason": "x"})
    assert response.status_code == 404
    assert PaymentPlan.objects.get(pk=other.pk).status == "proposed"
    # A plan id that belongs to another case of the same team is refused as well.
    response = client.post(reverse("desk:plan_cancel", args=[mine_beyond.case_id, mine_within.pk]), {"reason": "x"})
    assert response.status_code == 404


def test_agents_have_no_inbox_but_act_on_their_case_page(login, agent):
    case = make_case(agent)
    plan = propose(agent, case, count=3)
    client = login(agent)
    assert client.get(reverse("desk:plan_inbox")).status_code == 403
    page = client.get(reverse("desk:detail", args=[case.pk])).content.decode()
    assert f'data-testid="plan-agree-{plan.pk}"' in page
    response = client.post(reverse("desk:plan_agree", args=[case.pk, plan.pk]), {"next": "https://evil.example.com/"})
    assert response.status_code == 302 and response.url == reverse("desk:detail", args=[case.pk])
    assert PaymentPlan.objects.get(pk=plan.pk).status == "active"


def test_the_timeline_tells_approval_and_cancellation(login, agent, supervisor):
    case = make_case(agent)
    plan = propose(agent, case, count=18)
    plan_agree(actor=supervisor, plan_id=plan.pk)
    plan_cancel(actor=agent, plan_id=plan.pk, reason="Ha perdido el empleo")
    page = login(agent).get(reverse("desk:detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    reasons = AuditLog.objects.get(action="plan.approved").after["beyond_guardrails"]  # in the installation's language (es)
    assert "Proposed plan approved beyond the guardrails" in page and reasons[0] in page
    assert "Payment plan cancelled" in page and "Ha perdido el empleo" in page


def test_the_approval_audit_reads_the_same_whatever_the_approvers_language(agent, supervisor, settings):
    from django.utils import translation

    settings.LANGUAGE_CODE = "es"
    case = make_case(agent)
    plan = propose(agent, case, count=18)
    with translation.override("en"):
        plan_agree(actor=supervisor, plan_id=plan.pk)
    reasons = AuditLog.objects.get(action="plan.approved").after["beyond_guardrails"]
    assert reasons and all("cuotas" in r or "plazo" in r or "mínimo" in r for r in reasons), reasons
