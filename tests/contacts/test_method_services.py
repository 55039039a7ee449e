"""The method end to end, through the services an agent's actions call (real database): what the
agent logs opens barriers and moves the objective; pauses are recorded and hold the promises."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cases.models import Barrier, Case, PromiseToPay
from cases.reasons import reason_text
from cases.services import barrier_remove, case_set_status, promise_record
from collections_crm.audit.models import AuditLog
from contacts.engine import promises_sweep
from contacts.models import ContactRefusal, ExcuseCategory, FollowUp, FollowUpSettings, PausedCommitments
from contacts.selectors import excuse_name
from contacts.services import contact_attempt_log
from debtors.services import debtor_set_flags

from .conftest import WEDNESDAY

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def said(value) -> str:
    return reason_text(value, excuse_name=excuse_name)


def log(case, agent, *, excuse=None, kind="excuse", outcome="excuse", at=WEDNESDAY):
    return contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome=outcome,
                               excuse_category=ExcuseCategory.objects.get(code=excuse) if excuse else None,
                               statement_kind=kind if excuse or outcome == "excuse" else "", occurred_at=at, now=at)


def test_a_barrier_excuse_opens_the_barrier_and_removing_it_moves_on(clock, make_case, agent):
    case = make_case()
    log(case, agent, excuse="invoice_not_received")
    [barrier] = Barrier.objects.filter(case=case)
    assert (barrier.kind, barrier.status) == ("invoice_copy", "open")
    assert AuditLog.objects.filter(action="barrier.opened", object_id=str(barrier.pk)).exists()
    case.refresh_from_db()
    assert case.objective == "remove_barriers"
    assert said(case.objective_reason) == "Excuse: «Invoice not received» on 11/25/2026, a payment barrier → Remove barriers"
    # The same excuse again does not open a second barrier of that kind.
    log(case, agent, excuse="invoice_not_received", at=WEDNESDAY + dt.timedelta(hours=1))
    assert Barrier.objects.filter(case=case).count() == 1
    barrier_remove(actor=agent, barrier_id=barrier.pk, case_id=case.pk, now=WEDNESDAY + dt.timedelta(hours=2))
    case.refresh_from_db()
    assert case.objective == "get_commitment"
    assert said(case.objective_reason).startswith("Excuse: «Invoice not received»")


def test_an_argument_leads_to_payment_options_and_repeated_excuses_to_pressure(clock, make_case, agent):
    arguing, stalling = make_case(), make_case()
    log(arguing, agent, excuse="lost_income", kind="argument", outcome="right_party")
    arguing.refresh_from_db()
    assert arguing.objective == "change_terms"
    assert not Barrier.objects.filter(case=arguing).exists()
    for days_ago, code in ((20, "forgot"), (10, "no_funds")):
        log(stalling, agent, excuse=code, at=WEDNESDAY - days_ago * DAY)
    stalling.refresh_from_db()
    assert stalling.objective == "get_commitment"  # two excuses: not yet repeated
    log(stalling, agent, excuse="waiting_for_income")
    stalling.refresh_from_db()
    assert stalling.objective == "pressure"
    assert said(stalling.objective_reason) == "3 excuses in 30 days, the last «Waiting for income to pay» on 11/25/2026 → Pressure"


def test_a_debtor_flag_pause_is_recorded_and_shown_and_lifts(clock, make_case, agent):
    case = make_case()
    live = list(FollowUp.objects.filter(case=case, status="pending"))
    assert live
    debtor_set_flags(actor=agent, debtor_id=case.debtor_id, deceased=True, now=WEDNESDAY)
    case.refresh_from_db()
    assert case.paused_at == WEDNESDAY
    assert said(case.objective_reason) == said(case.next_action_note) == "Paused: deceased"
    for fu in live:
        fu.refresh_from_db()
        assert (fu.status, fu.result) == ("cancelled", "deceased")
    refusals = ContactRefusal.objects.filter(case=case, reason="deceased", stage="schedule")
    assert sorted(r.followup_id for r in refusals) == sorted(fu.pk for fu in live)
    assert AuditLog.objects.filter(action="case.paused", case_id=case.pk, after__why="deceased").count() == 1
    debtor_set_flags(actor=agent, debtor_id=case.debtor_id, deceased=False, now=WEDNESDAY + DAY)
    case.refresh_from_db()
    assert case.paused_at is None and case.objective == "remind"
    assert AuditLog.objects.filter(action="case.resumed", case_id=case.pk).count() == 1
    assert FollowUp.objects.filter(case=case, status="pending").exists()


@pytest.mark.parametrize("mode", [PausedCommitments.SHIFT, PausedCommitments.EVALUATE])
def test_promises_do_not_break_while_a_case_is_disputed(clock, make_case, agent, mode):
    FollowUpSettings.objects.filter(pk=1).update(paused_commitments=mode)
    case = make_case()
    promise = promise_record(actor=agent, case_id=case.pk, amount=Decimal("200.00"), due_date=(WEDNESDAY + 2 * DAY).date(),
                             now=WEDNESDAY)
    case_set_status(actor=agent, case_id=case.pk, status="disputed", now=WEDNESDAY + DAY)
    # Ten days later the promise is long past its grace period, but the case is disputed.
    later = WEDNESDAY + 11 * DAY
    clock.move_to(later)
    assert promises_sweep(now=later)["broken"] == 0
    promise.refresh_from_db()
    assert promise.status == "pending"
    case_set_status(actor=agent, case_id=case.pk, status="active", now=later)
    promise.refresh_from_db()
    if mode == PausedCommitments.SHIFT:
        # Moved by the ten days of the dispute: still ahead, nothing broken.
        assert promise.due_date == (WEDNESDAY + 12 * DAY).date()
        assert AuditLog.objects.filter(action="promisetopay.postponed_by_pause", object_id=str(promise.pk), after__days=10).exists()
        assert promises_sweep(now=later)["broken"] == 0
    else:
        assert promise.due_date == (WEDNESDAY + 2 * DAY).date()
        assert promises_sweep(now=later)["broken"] == 1
    case.refresh_from_db()
    assert case.paused_at is None


def test_partial_payment_and_acknowledgement(clock, make_case, agent):
    from cases.services import payment_post

    paid, acknowledged = make_case(), make_case()
    payment_post(actor=agent, case_id=paid.pk, amount=Decimal("300.00"), received_on=WEDNESDAY.date(), now=WEDNESDAY)
    paid.refresh_from_db()
    assert paid.objective == "get_commitment"
    assert said(paid.objective_reason) == "Paid 300.00 € on 11/25/2026 with no agreement for the rest → Get a commitment"
    contact_attempt_log(actor=agent, case_id=acknowledged.pk, channel="phone", outcome="acknowledged", now=WEDNESDAY)
    acknowledged.refresh_from_db()
    assert acknowledged.objective == "get_commitment"
    assert said(acknowledged.objective_reason).startswith("Acknowledged the debt on 11/25/2026")
    assert Case.objects.get(pk=acknowledged.pk).paused_at is None
    assert PromiseToPay.objects.filter(case=acknowledged).count() == 0


def test_a_step_moved_by_the_policy_says_why_and_a_replan_keeps_it_without_writing(clock, make_case, make_debtor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from contacts.engine.planning import followups_plan

    # 05:00 in New York: the first step waits for 08:00 there.
    case = make_case(debtor=make_debtor(country="US", timezone="America/New_York"))
    case.refresh_from_db()
    assert case.next_action_note.get("moved") == "outside_hours"
    assert said(case.next_action_note).endswith("— first allowed time in the debtor's zone (outside contact hours)")
    other = make_case()
    with CaptureQueriesContext(connection) as queries:
        followups_plan(case_ids=[case.pk, other.pk], now=WEDNESDAY)
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE") and "cases_case" in q["sql"].split("SET")[0]]
    before = case.next_action_note
    case.refresh_from_db()
    assert case.next_action_note == before
