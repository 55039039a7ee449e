"""Services behind the agent workspace: plans, follow-ups, contact flags, next case."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, connections
from django.utils import timezone, translation

from cases.models import Case, Instalment, PaymentPlan
from cases.services import (
    ContactRestriction,
    StaleVersionError,
    case_restrict_contact,
    case_schedule_followup,
    case_take_next,
    plan_create,
    plan_schedule,
    promise_record,
)
from collections_crm.accounts.models import Role
from collections_crm.audit.models import AuditLog
from tests.factories import CaseFactory, ContactPointFactory, UserFactory

D = Decimal


@pytest.mark.parametrize("total,count,frequency,first,expected", [
    (D("1000.00"), 3, "monthly", dt.date(2026, 1, 31),
     [(1, dt.date(2026, 1, 31), D("333.33")), (2, dt.date(2026, 2, 28), D("333.33")), (3, dt.date(2026, 3, 31), D("333.34"))]),
    (D("100.00"), 2, "weekly", dt.date(2026, 12, 28), [(1, dt.date(2026, 12, 28), D("50.00")), (2, dt.date(2027, 1, 4), D("50.00"))]),
    (D("10.01"), 2, "biweekly", dt.date(2026, 5, 1), [(1, dt.date(2026, 5, 1), D("5.00")), (2, dt.date(2026, 5, 15), D("5.01"))]),
    (D("0.05"), 1, "monthly", dt.date(2024, 2, 29), [(1, dt.date(2024, 2, 29), D("0.05"))]),
    (D("1200.00"), 12, "monthly", dt.date(2026, 11, 30), None),
])
def test_plan_schedule_splits_exactly(total, count, frequency, first, expected):
    rows = plan_schedule(total=total, count=count, frequency=frequency, first_date=first)
    assert sum(amount for _n, _d, amount in rows) == total
    assert len(rows) == count
    if expected is not None:
        assert rows == expected
    else:  # month ends are clamped, never skipped
        assert [d.month for _n, d, _a in rows] == [11, 12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        assert rows[3][1] == dt.date(2027, 2, 28)


@pytest.mark.django_db
def test_plan_create_writes_plan_instalments_audit_and_moves_the_case(agent, case):
    first = timezone.localdate() + dt.timedelta(days=3)
    schedule = [(d, a) for _n, d, a in plan_schedule(total=D("600"), count=3, frequency="monthly", first_date=first)]
    plan = plan_create(actor=agent, case_id=case.pk, total_amount=D("600"), frequency="monthly", instalments=schedule,
                       expected_version=case.version)
    assert plan.status == "active" and plan.instalment_count == 3
    assert Instalment.objects.filter(plan=plan).count() == 3
    assert Case.objects.get(pk=case.pk).status == "plan"
    assert AuditLog.objects.filter(case_id=case.pk, action="plan.created").exists()
    with translation.override("en"), pytest.raises(ValidationError, match="live payment plan"):
        plan_create(actor=agent, case_id=case.pk, total_amount=D("100"), frequency="monthly", instalments=[(first, D("100"))])
    assert PaymentPlan.objects.filter(case=case).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("instalments,total,field", [
    ([(1, "300"), (31, "200")], "600", "instalments"),   # does not add up
    ([(-1, "300"), (30, "300")], "600", "instalments"),  # first in the past
    ([(30, "300"), (1, "300")], "600", "instalments"),   # out of order
    ([(1, "600"), (30, "600")], "1200", "total_amount"),  # more than the balance
    ([(1, "0"), (30, "600")], "600", "instalments"),
])
def test_bad_plans_are_refused_and_nothing_is_written(agent, case, instalments, total, field):
    today = timezone.localdate()
    rows = [(today + dt.timedelta(days=d), D(a)) for d, a in instalments]
    audit = AuditLog.objects.count()
    with pytest.raises(ValidationError) as exc:
        plan_create(actor=agent, case_id=case.pk, total_amount=D(total), frequency="monthly", instalments=rows)
    assert field in exc.value.message_dict
    assert not PaymentPlan.objects.exists() and not Instalment.objects.exists()
    assert AuditLog.objects.count() == audit
    assert Case.objects.get(pk=case.pk).version == case.version


@pytest.mark.django_db
def test_followup_by_hand(agent, case):
    now = timezone.now()
    case_schedule_followup(actor=agent, case_id=case.pk, at=now + dt.timedelta(days=2), note="Llamar al contable", now=now)
    case.refresh_from_db()
    assert case.next_action_note == {"text": "Llamar al contable"} and case.next_action_at == now + dt.timedelta(days=2)
    row = AuditLog.objects.get(case_id=case.pk, action="case.followup_scheduled")
    assert row.after["next_action_note"] == {"text": "Llamar al contable"}
    with pytest.raises(ValidationError):
        case_schedule_followup(actor=agent, case_id=case.pk, at=now - dt.timedelta(days=1), now=now)


@pytest.mark.django_db
def test_restrictions_set_the_flags_and_leave_a_case_audit_row(agent, case):
    point = ContactPointFactory(debtor=case.debtor)
    foreign = ContactPointFactory()
    with pytest.raises(ValidationError):
        case_restrict_contact(actor=agent, case_id=case.pk, restriction=ContactRestriction.POINT_DO_NOT_CONTACT,
                              contact_point_id=foreign.pk)
    foreign.refresh_from_db()
    assert not foreign.do_not_contact
    case_restrict_contact(actor=agent, case_id=case.pk, restriction=ContactRestriction.POINT_DO_NOT_CONTACT, contact_point_id=point.pk)
    case_restrict_contact(actor=agent, case_id=case.pk, restriction=ContactRestriction.CEASE)
    point.refresh_from_db()
    case.refresh_from_db()
    assert point.do_not_contact and case.debtor.cease_communication
    assert AuditLog.objects.filter(case_id=case.pk, action="case.contact_restricted").count() == 2
    assert case.version == 3


@pytest.mark.django_db
def test_stale_version_is_refused_without_writing(agent, case):
    promise_record(actor=agent, case_id=case.pk, amount=D("10"), due_date=timezone.localdate(), expected_version=case.version)
    with pytest.raises(StaleVersionError):
        promise_record(actor=agent, case_id=case.pk, amount=D("20"), due_date=timezone.localdate(), expected_version=case.version)
    assert case.promises.count() == 1


@pytest.mark.django_db
def test_take_next_prefers_my_due_cases_then_claims_from_the_pool(agent, teammate):
    now = timezone.now()
    mine = CaseFactory(assigned_agent=agent, next_action_at=now - dt.timedelta(minutes=5))
    CaseFactory(assigned_agent=agent, next_action_at=now + dt.timedelta(days=1))
    CaseFactory(assigned_agent=teammate, next_action_at=now - dt.timedelta(days=9))
    pooled = CaseFactory(assigned_agent=None, next_action_at=now - dt.timedelta(days=1))
    assert case_take_next(agent=agent, now=now) == mine
    mine.next_action_at = now + dt.timedelta(days=1)
    mine.save()
    taken = case_take_next(agent=agent, now=now)
    assert taken.pk == pooled.pk and taken.assigned_agent == agent
    assert AuditLog.objects.filter(case_id=pooled.pk, action="case.assigned", actor=agent).exists()
    # Claimed, it is the agent's own case now: the pool is empty and nothing else is due.
    Case.objects.filter(pk=pooled.pk).update(next_action_at=now + dt.timedelta(hours=2))
    assert case_take_next(agent=agent, now=now) is None


@pytest.mark.django_db
def test_a_case_taken_between_the_read_and_the_claim_is_not_taken_twice(agent, teammate, monkeypatch):
    """The claim is conditional on the version read with the candidate, whatever the database:
    here the teammate's take runs after the agent read the pool and before the agent's claim (the
    interleaving row locks prevent on PostgreSQL and SQLite cannot prevent without them)."""
    from cases import services

    now = timezone.now()
    first = CaseFactory(assigned_agent=None, next_action_at=now - dt.timedelta(days=2))
    second = CaseFactory(assigned_agent=None, next_action_at=now - dt.timedelta(days=1))
    real_lock, taken = services.case_lock, {}

    def lock_after_the_teammate(**kwargs):
        if not taken:  # the agent's first claim: the teammate's whole take runs first
            taken[teammate] = None
            taken[teammate] = case_take_next(agent=teammate, now=now)
        return real_lock(**kwargs)

    monkeypatch.setattr(services, "case_lock", lock_after_the_teammate)
    taken[agent] = case_take_next(agent=agent, now=now)
    assert (taken[teammate].pk, taken[agent].pk) == (first.pk, second.pk)
    assert dict(Case.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "assigned_agent_id")) == {
        first.pk: teammate.pk, second.pk: agent.pk}
    assert AuditLog.objects.filter(action="case.assigned", case_id=first.pk).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_agents_clicking_next_at_once_get_different_cases():
    """Real concurrency on the suite's database: on PostgreSQL the takes skip each other's locked
    rows; on SQLite they run one after the other (IMMEDIATE transactions)."""
    now = timezone.now()
    agents = [UserFactory(role=Role.AGENT) for _ in range(4)]
    pool = {CaseFactory(assigned_agent=None, next_action_at=now - dt.timedelta(hours=i)).pk for i in range(4)}
    barrier = threading.Barrier(len(agents))
    taken, errors = [], []

    def take(agent):
        # The test database on SQLite is in memory with a shared cache, which answers "table is
        # locked" at once where the file database of the embedded default waits (busy timeout,
        # settings): wait here the same way.
        for _attempt in range(200):
            try:
                return case_take_next(agent=agent, now=now)
            except OperationalError as exc:
                if connection.vendor != "sqlite" or "locked" not in str(exc):
                    raise
                time.sleep(0.01)
        raise AssertionError("the database stayed locked")

    def work(agent):
        try:
            barrier.wait()
            case = take(agent)
            taken.append(case.pk if case else None)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(taken) == sorted(pool)
    assert {Case.objects.get(pk=pk).assigned_agent_id for pk in pool} == {a.pk for a in agents}


@pytest.mark.django_db
def test_plan_beyond_guardrails_needs_a_supervisor(agent, supervisor, case):
    """Admin-edited guardrails: 24 monthly instalments exceed the default 12; an agent may only
    propose such a plan, a supervisor may agree it (and is recorded as approving it)."""
    first = timezone.localdate() + dt.timedelta(days=3)
    schedule = [(d, a) for _n, d, a in plan_schedule(total=D("960"), count=24, frequency="monthly", first_date=first)]
    with translation.override("en"), pytest.raises(ValidationError, match="supervisor's approval"):
        plan_create(actor=agent, case_id=case.pk, total_amount=D("960"), frequency="monthly", instalments=schedule)
    assert PaymentPlan.objects.filter(case=case).count() == 0
    proposed = plan_create(actor=agent, case_id=case.pk, total_amount=D("960"), frequency="monthly", instalments=schedule, agreed=False)
    assert proposed.status == "proposed" and proposed.approved_by is None
    proposed.status = "cancelled"
    proposed.save(update_fields=["status"])
    plan = plan_create(actor=supervisor, case_id=case.pk, total_amount=D("960"), frequency="monthly", instalments=schedule)
    assert plan.status == "active" and plan.approved_by == supervisor
