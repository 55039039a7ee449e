"""The read-only fragments the case page and the queue include, and the planning command."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.template.loader import render_to_string

from cases.models import Case
from cases.reasons import reason_text
from contacts.models import FollowUp
from contacts.selectors import contact_status_for_cases, followups_for_case

from .conftest import WEDNESDAY

pytestmark = pytest.mark.django_db


def test_followups_fragment_shows_the_plan_in_the_debtors_time(clock, make_case, make_debtor):
    case = make_case(debtor=make_debtor(country="US", timezone="America/New_York"))
    html = render_to_string("desk/_followups.html", {"case": case, "followups": followups_for_case(case=case)})
    [fu] = FollowUp.objects.filter(case=case)
    # 05:00 in New York: moved by Regulation F hours to 08:00 local (13:00 UTC).
    assert fu.policy_reason == "outside_hours" and fu.due_at == dt.datetime(2026, 11, 25, 13, 0, tzinfo=dt.UTC)
    assert 'data-testid="followup-pending"' in html
    assert "(08:00 debtor's time)" in html and "outside contact hours" in html
    assert reason_text(case.objective_reason) in html.replace("&gt;", ">")


def test_policy_badge(clock, make_case, make_debtor):
    ok = make_case()
    us = make_case(debtor=make_debtor(country="US", timezone="America/New_York"))
    statuses = contact_status_for_cases(cases=[ok, us], now=WEDNESDAY)
    assert 'data-testid="callable-now"' in render_to_string("desk/_contact_policy_badge.html", {"status": statuses[ok.pk]})
    html = render_to_string("desk/_contact_policy_badge.html", {"status": statuses[us.pk]})
    assert 'data-testid="not-callable"' in html and "Outside contact hours" in html and "25/11 14:00" in html  # shown in the agent's zone (Madrid)


def test_plan_followups_command_plans_cases_without_a_plan(clock, make_case):
    cases = [make_case() for _ in range(3)]
    FollowUp.objects.all().delete()
    Case.objects.update(next_action_at=None)
    out = StringIO()
    call_command("plan_followups", stdout=out)
    assert "3 open cases planned: 3 follow-ups created" in out.getvalue()
    assert FollowUp.objects.filter(case__in=cases, status="pending").count() == 3
