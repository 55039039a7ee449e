"""Planning a portfolio in several processes gives the same plans as one process."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from cases.models import Case
from contacts.engine import followups_plan_portfolio
from contacts.models import FollowUp
from tests.factories import CaseFactory, ContactPointFactory

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="forked planning processes need a server database (PostgreSQL)"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _snapshot():
    cases = dict(Case.objects.values_list("pk", "objective"))
    steps = sorted(FollowUp.objects.filter(status="pending").values_list("case_id", "objective", "channel", "due_at"))
    return cases, steps


def test_two_processes_plan_every_case_like_one(agent):
    now = timezone.now()
    for i in range(23):
        case = CaseFactory(assigned_agent=agent if i % 2 else None)
        ContactPointFactory(debtor=case.debtor, kind="email", value=f"p{i}@example.com")
    stats = followups_plan_portfolio(now=now, batch=5, workers=2)
    assert stats.cases == 23
    in_processes = _snapshot()
    assert len(in_processes[1]) >= 23  # every open case has its next step
    FollowUp.objects.all().delete()
    Case.objects.update(objective="remind", next_action_at=None)
    followups_plan_portfolio(now=now, batch=5, workers=1)
    assert _snapshot() == in_processes
