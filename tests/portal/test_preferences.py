"""The debtor's preferred time for calls: the contact policy places calls inside it (a pure rule),
and the portal sets it (re-planning the debtor's cases)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from contacts.engine.policy import PREFERRED_TIME, DebtorInfo, PackRules, can_contact

MADRID = zoneinfo.ZoneInfo("Europe/Madrid")
SPAIN = PackRules(code="es", start_time=dt.time(9), end_time=dt.time(21), weekdays=frozenset({1, 2, 3, 4, 5}))
EVENINGS = DebtorInfo(timezone="Europe/Madrid", call_window=(18, 21))
MORNINGS = DebtorInfo(timezone="Europe/Madrid", call_window=(9, 14))
WEDNESDAY = dt.date(2026, 12, 2)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=MADRID)


@pytest.mark.parametrize(("debtor", "channel", "when", "allowed", "reason", "next_at"), [
    (EVENINGS, "phone", at(WEDNESDAY, 11), False, PREFERRED_TIME, at(WEDNESDAY, 18)),
    (EVENINGS, "phone", at(WEDNESDAY, 19, 30), True, "", None),
    # After the window: the next day's start, if the legal hours allow it then.
    (MORNINGS, "phone", at(WEDNESDAY, 15), False, PREFERRED_TIME, at(WEDNESDAY + dt.timedelta(days=1), 9)),
    # Friday afternoon, mornings only: Monday 9:00 (the weekend is outside the legal days).
    (MORNINGS, "phone", at(dt.date(2026, 12, 4), 16), False, PREFERRED_TIME, at(dt.date(2026, 12, 7), 9)),
    # The preference is about calls: messages keep the legal hours only.
    (EVENINGS, "sms", at(WEDNESDAY, 11), True, "", None),
    # The legal hours still come first: before 9:00 the reason is the hours.
    (MORNINGS, "phone", at(WEDNESDAY, 7), False, "outside_hours", at(WEDNESDAY, 9)),
])
def test_calls_keep_to_the_preferred_time(debtor, channel, when, allowed, reason, next_at):
    decision = can_contact(debtor=debtor, case_status="active", channel=channel, at=when, pack=SPAIN)
    assert (decision.allowed, decision.reason) == (allowed, reason)
    if next_at is not None:
        assert decision.next_allowed_at == next_at


@pytest.mark.django_db
def test_portal_sets_the_preferred_time_and_audits(visit, portal_case, debtor):
    from collections_crm.audit.models import AuditLog

    response = visit.post(f"/p/case/{portal_case.pk}/preferences/", {"preferred_time": "evening"})
    assert response.status_code == 302
    debtor.refresh_from_db()
    assert debtor.preferred_contact_time == "evening"
    row = AuditLog.objects.get(case_id=portal_case.pk, action="portal.preferences")
    assert row.after["preferred_contact_time"] == "evening"
    bad = visit.post(f"/p/case/{portal_case.pk}/preferences/", {"preferred_time": "midnight"})
    assert bad.status_code == 400
    debtor.refresh_from_db()
    assert debtor.preferred_contact_time == "evening"


def _a_working_day(today: dt.date) -> dt.date:
    import holidays

    spain = holidays.country_holidays("ES", subdiv="MD", years=[today.year, today.year + 1])
    day = today + dt.timedelta(days=3)
    while day.isoweekday() > 5 or day in spain:
        day += dt.timedelta(days=1)
    return day


@pytest.mark.django_db
def test_a_call_back_asked_online_is_planned_or_refused_with_the_reason(visit, portal_case):
    from django.utils import timezone

    from contacts.models import FollowUp

    day = _a_working_day(timezone.localdate())
    refused = visit.post(f"/p/case/{portal_case.pk}/preferences/", {"callback_at": f"{day.isoformat()}T23:30"})
    assert refused.status_code == 400 and not FollowUp.objects.filter(case=portal_case, purpose="callback").exists()
    assert "La primera hora posible" in refused.content.decode()
    response = visit.post(f"/p/case/{portal_case.pk}/preferences/", {"callback_at": f"{day.isoformat()}T11:00"})
    assert response.status_code == 302
    task = FollowUp.objects.get(case=portal_case, purpose="callback", status="pending")
    assert task.kind == "agent_task" and task.due_at == at(day, 11)
