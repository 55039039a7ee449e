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


# --- A proposal that no longer fits the balance (#19) ------------------------------------------


def _pay(case, amount: str):
    from cases.services import payment_post

    payment_post(actor=None, case_id=case.pk, amount=D(amount), received_on=timezone.localdate())


def test_a_plan_larger_than_the_balance_now_is_refused_with_the_difference(agent, supervisor, settings):
    from django.utils import translation

    within = propose(agent, make_case(agent), count=3)
    beyond = propose(agent, make_case(agent), count=18)
    for plan in (within, beyond):
        _pay(plan.case, "200")  # after the proposal: the balance is 800, the plan 900
    audits = AuditLog.objects.count()
    for actor, plan in ((agent, within), (supervisor, beyond)):
        with translation.override("es"), pytest.raises(ValidationError) as exc:
            plan_agree(actor=actor, plan_id=plan.pk)
        message = exc.value.message_dict["total_amount"][0]
        assert "900,00 €" in message and "800,00 €" in message and "100,00 €" in message, message
        assert exc.value.error_dict["total_amount"][0].code == "plan_exceeds_balance"
        assert PaymentPlan.objects.get(pk=plan.pk).status == "proposed"
    assert AuditLog.objects.count() == audits  # nothing written
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        plan_agree(actor=supervisor, plan_id=beyond.pk)
    assert "(900.00 €)" in exc.value.messages[0] and "by 100.00 €" in exc.value.messages[0]


def test_a_proposal_is_adjusted_to_the_balance_then_agreed(agent, supervisor):
    from cases.services import plan_adjust_to_balance

    plan = propose(agent, make_case(agent), count=18)
    dates = list(plan.instalments.values_list("due_date", flat=True))
    _pay(plan.case, "100.50")  # balance 899.50
    plan_adjust_to_balance(actor=supervisor, plan_id=plan.pk)
    plan.refresh_from_db()
    assert plan.status == "proposed" and plan.total_amount == D("899.50") and plan.instalment_count == 18
    instalments = list(plan.instalments.order_by("number"))
    assert sum(i.amount for i in instalments) == D("899.50")
    assert [i.due_date for i in instalments] == dates  # the dates the debtor was offered stay
    row = AuditLog.objects.get(object_id=str(plan.pk), action="plan.adjusted")
    assert (row.actor, row.before["total_amount"], row.after["total_amount"]) == (supervisor, "900.00", "899.50")
    with pytest.raises(ValidationError):
        plan_adjust_to_balance(actor=supervisor, plan_id=plan.pk)  # it fits now
    with pytest.raises(ValidationError, match="supervisor"):
        plan_agree(actor=agent, plan_id=plan.pk)  # still beyond the guardrails: re-checked
    plan_agree(actor=supervisor, plan_id=plan.pk)
    assert PaymentPlan.objects.get(pk=plan.pk).status == "active"


def test_the_inbox_shows_the_difference_and_offers_adjust_or_reject(login, agent, supervisor):
    case = CaseFactory(assigned_agent=agent, original_amount=D("2000"), fees=D("0"), balance=D("2000"))
    plan = propose(agent, case, count=18, total="1500")
    _pay(case, "1000")  # balance 1,000; the plan 1,500
    client = login(supervisor)
    inbox = reverse("desk:plan_inbox")
    page = client.get(inbox, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert f'data-testid="plan-exceeds-{plan.pk}"' in page and "1\xa0500,00 €" in page
    assert "supera en 500,00 € el saldo actual (1\xa0000,00 €)" in page
    assert f'data-testid="plan-adjust-{plan.pk}"' in page and f'data-testid="plan-cancel-{plan.pk}"' in page
    assert f'data-testid="plan-agree-{plan.pk}"' not in page
    # Agreeing anyway (a page opened before the payment): refused with the figures.
    response = client.post(reverse("desk:plan_agree", args=[plan.case_id, plan.pk]), {"next": inbox},
                           HTTP_ACCEPT_LANGUAGE="es", follow=True)
    assert "1\xa0500,00 €" in response.content.decode() and PaymentPlan.objects.get(pk=plan.pk).status == "proposed"
    response = client.post(reverse("desk:plan_adjust", args=[plan.case_id, plan.pk]), {"next": inbox})
    assert response.status_code == 302 and response.url == inbox
    assert PaymentPlan.objects.get(pk=plan.pk).total_amount == D("1000")
    page = client.get(inbox).content.decode()
    assert f'data-testid="plan-agree-{plan.pk}"' in page and f'data-testid="plan-exceeds-{plan.pk}"' not in page


def test_the_api_refuses_a_plan_larger_than_the_balance_with_a_field_message(agent, supervisor):
    from rest_framework.test import APIClient

    plan = propose(agent, make_case(agent), count=3)
    _pay(plan.case, "200")
    api = APIClient()
    api.force_login(supervisor)
    response = api.post(f"/api/v1/payment-plans/{plan.pk}/agree/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "900.00 €" in response.json()["total_amount"][0] and "800.00 €" in response.json()["total_amount"][0]
    assert PaymentPlan.objects.get(pk=plan.pk).status == "proposed"


# --- Each role sees only the actions it may take (#19) -----------------------------------------


def test_each_role_sees_only_the_plan_actions_it_may_take(login, agent, teammate, supervisor, team):
    within_case, beyond_case = make_case(agent), make_case(agent)
    within, beyond = propose(agent, within_case, count=3), propose(agent, beyond_case, count=18)

    def page(user, case):
        return login(user).get(reverse("desk:detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    mine = page(agent, beyond_case)
    assert f'data-testid="plan-agree-{beyond.pk}"' not in mine  # only a supervisor may approve it
    assert f'data-testid="plan-awaiting-{beyond.pk}"' in mine and "Waiting for a supervisor" in mine
    assert f'data-testid="plan-cancel-{beyond.pk}"' in mine
    mine = page(agent, within_case)
    assert f'data-testid="plan-agree-{within.pk}"' in mine and "Debtor agreed" in mine
    theirs = page(supervisor, beyond_case)
    assert f'data-testid="plan-agree-{beyond.pk}"' in theirs and "Approve" in theirs
    assert f'data-testid="plan-awaiting-{beyond.pk}"' not in theirs
    # A teammate who may only read the case sees no action at all.
    team.agents_see_team_cases = True
    team.save()
    read_only = page(teammate, within_case)
    assert f'data-testid="plan-actions-{within.pk}"' not in read_only


def test_plan_actions_follow_the_services_rules(agent, supervisor, admin_user):
    from cases.selectors import plan_actions_for_user

    case = make_case(agent)
    plan = propose(agent, case, count=18)
    today = timezone.localdate()
    assert plan_actions_for_user(user=agent, plan=plan, case=case, can_write=True, today=today).awaiting_approval
    for user in (supervisor, admin_user):
        actions = plan_actions_for_user(user=user, plan=plan, case=case, can_write=True, today=today)
        assert actions.approve and not actions.agree and len(actions.reasons) == 2
    assert not plan_actions_for_user(user=supervisor, plan=plan, case=case, can_write=False, today=today).any
    case.balance = D("500")
    actions = plan_actions_for_user(user=supervisor, plan=plan, case=case, can_write=True, today=today)
    assert (actions.adjust, actions.approve, actions.agree, actions.excess) == (True, False, False, D("400"))


def test_a_reason_longer_than_the_limit_is_refused_not_cut(agent):
    """#19: the reason was cut to 500 characters without a word; now it is a field error."""
    plan = propose(agent, make_case(agent), count=3)
    audits = AuditLog.objects.count()
    with pytest.raises(ValidationError) as exc:
        plan_cancel(actor=agent, plan_id=plan.pk, reason="x" * 501)
    assert "500" in exc.value.message_dict["reason"][0] and "501" in exc.value.message_dict["reason"][0]
    assert PaymentPlan.objects.get(pk=plan.pk).status == "proposed" and AuditLog.objects.count() == audits
    plan_cancel(actor=agent, plan_id=plan.pk, reason="y" * 500)
    assert AuditLog.objects.get(action="plan.cancelled").after["reason"] == "y" * 500
