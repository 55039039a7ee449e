"""A change of the strategy changes the engine's next decision for an affected case, and the
"why" tester explains it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.models import Case
from collections_crm.adminarea import services
from collections_crm.adminarea.tasks import _enqueue_replan, replan_portfolio
from contacts.models import FollowUp, StrategyRule
from contacts.services import contact_attempt_log

from ..factories import CaseFactory, ContactPointFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def excuse_case(agent):
    case = CaseFactory(assigned_agent=agent)
    ContactPointFactory(debtor=case.debtor, kind="email", value="deudor@example.com")
    contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome="excuse", statement_kind="excuse")
    case.refresh_from_db()
    return case


def test_deactivating_the_excuse_rule_changes_the_next_decision(client, admin_user, excuse_case, django_capture_on_commit_callbacks):
    assert excuse_case.objective == "get_commitment"
    client.force_login(admin_user)
    page = client.get(reverse("adminarea:why"), {"case": excuse_case.pk})
    matched = StrategyRule.objects.get(condition="excuse_given")
    assert page.context["plan"].rule_id == matched.pk
    assert 'data-testid="why-matched"' in page.content.decode()

    rows = [{**{f: getattr(r, f) for f in services.RULE_FIELDS}, "id": r.pk} for r in StrategyRule.objects.order_by("position")]
    for row in rows:
        if row["id"] == matched.pk:
            row["active"] = False
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.strategy_rules_save(actor=admin_user, rules=rows)
    # One background replan is queued when the change commits...
    assert callbacks == [_enqueue_replan]
    # ...and the tester shows the new decision at once (new decisions read the rules).
    page = client.get(reverse("adminarea:why"), {"case": excuse_case.pk})
    assert page.context["plan"].objective == "remind"
    assert page.context["plan"].rule_id == StrategyRule.objects.get(condition="always").pk

    stats = replan_portfolio()  # the task body, as the worker runs it
    assert stats["objective_changed"] >= 1
    excuse_case.refresh_from_db()
    assert excuse_case.objective == "remind"
    live = FollowUp.objects.get(case=excuse_case, status="pending")
    assert live.objective == "remind"
    # Running it twice changes nothing more.
    assert replan_portfolio()["objective_changed"] == 0
    assert Case.objects.get(pk=excuse_case.pk).objective == "remind"


def test_why_tester_refuses_an_unknown_case(client, admin_user):
    client.force_login(admin_user)
    response = client.get(reverse("adminarea:why"), {"case": 999999})
    assert response.context["form"].errors["case"]
