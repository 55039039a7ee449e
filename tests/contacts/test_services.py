"""The follow-up engine against the database: planning on events, execution, outbox, promise
monitoring, the contact policy at send time and at call start."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from cases.models import Case, Instalment, PaymentPlan, PromiseToPay
from cases.services import barrier_open, case_replan, case_schedule_followup, payment_post, promise_record
from collections_crm.audit.models import AuditLog
from contacts import engine
from contacts.engine import outbox
from contacts.engine.contact_policy import contact_check, contact_histories
from contacts.models import (
    ContactAttempt,
    ContactRefusal,
    FollowUp,
    MessageTemplate,
    OutboundMessage,
    PrintBatch,
)
from contacts.selectors import contact_status_for_cases, messages_for_case
from contacts.services import contact_attempt_log
from debtors.services import contact_point_add, debtor_confirm_timezone, debtor_set_flags
from tests.text import said

from .conftest import WEDNESDAY

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def live(case):
    return list(FollowUp.objects.filter(case=case, status__in=["pending", "running"]))


def run_due(now):
    """What the beat tick does, synchronously: claim due steps and execute them."""
    return [engine.followups_execute(followup_ids=[i], now=now)[i] for i in engine.followups_claim_due(now=now)]


def send_all(now):
    return [outbox.message_send(message_id=m, now=now) for m in OutboundMessage.objects.values_list("pk", flat=True)]


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.CRM_SMS_FILE_PATH = str(tmp_path / "sms")
    settings.MEDIA_ROOT = str(tmp_path / "media")


def test_new_case_gets_a_reminder_email_now(clock, make_case):
    case = make_case()
    case.refresh_from_db()
    [fu] = live(case)
    assert (fu.objective, fu.purpose, fu.step, fu.channel, fu.kind) == ("remind", "cadence", 0, "email", "automatic")
    assert fu.rule.condition == "always"
    assert case.objective == "remind"
    assert said(case.objective_reason) == "New case, 10 days past due → Remind"
    assert case.next_action_at == fu.due_at == WEDNESDAY
    assert said(case.next_action_note).startswith("E-mail")


def test_a_strategy_cached_before_a_step_was_deleted_is_reloaded(clock, make_case):
    """An admin deleted a cadence step in another process while this one still had the strategy
    cached: the next replan notices, reloads it and never writes the deleted step's id (the
    foreign key would undo the whole action, say an interaction logged, at commit)."""
    from contacts.models import CadenceStep

    [first] = live(make_case())
    cached = engine.strategy_cached()
    assert cached.cadences["remind"].steps[0].id == first.cadence_step_id
    CadenceStep.objects.filter(pk=first.cadence_step_id).delete()  # nobody clears this process's cache
    assert engine.strategy_cached() is cached

    [second] = live(make_case())

    assert second.cadence_step_id is not None and second.cadence_step_id != first.cadence_step_id
    assert engine.strategy_cached() is not cached
    connection.check_constraints()


def test_one_pending_follow_up_per_case_and_step(clock, make_case):
    case = make_case()
    [fu] = live(case)
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUp.objects.create(case=case, objective=fu.objective, step=fu.step, channel="sms", kind="automatic",
                                due_at=WEDNESDAY, anchor_at=WEDNESDAY, reason="duplicate", created_at=WEDNESDAY)


def test_replanning_without_news_keeps_the_same_row(clock, make_case):
    case = make_case()
    [before] = live(case)
    with transaction.atomic():
        case_replan(case=Case.objects.get(pk=case.pk), actor=None, now=WEDNESDAY + dt.timedelta(hours=1))
    assert [f.pk for f in live(case)] == [before.pk]


def test_executing_twice_sends_once_with_the_template_version(clock, make_case):
    case = make_case()
    [fu] = live(case)
    assert run_due(WEDNESDAY) == ["queued"]
    assert engine.followups_execute(followup_ids=[fu.pk], now=WEDNESDAY)[fu.pk] == "not-claimed"
    [message] = OutboundMessage.objects.filter(case=case)
    template = MessageTemplate.objects.get(name="E-mail (remind)", language="es")
    assert message.template_version_id == template.current_version_id
    assert message.idempotency_key == f"followup-{fu.pk}"
    assert case.reference in message.subject
    assert "000,00 €" in message.body and case.debtor.name in message.body and "{{" not in message.body

    assert send_all(WEDNESDAY) == ["sent"]
    assert send_all(WEDNESDAY) == ["not-claimed"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [message.recipient]
    attempt = ContactAttempt.objects.get(case=case)
    assert (attempt.channel, attempt.outcome, attempt.agent_id) == ("email", "sent", None)
    message.refresh_from_db()
    assert (message.status, message.contact_attempt_id) == ("sent", attempt.pk)
    assert AuditLog.objects.filter(action="message.sent", object_id=str(message.pk)).count() == 1
    assert [m.template_version.template.name for m in messages_for_case(case=case)] == ["E-mail (remind)"]
    # The next step of the remind cadence: SMS on day 3 (a Saturday), moved by the Spanish pack
    # to Monday 09:00 Madrid.
    [nxt] = live(case)
    assert (nxt.step, nxt.channel, nxt.due_at) == (1, "sms", dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC))
    assert nxt.policy_reason == "weekday_not_allowed"


def test_sms_is_written_once_per_idempotency_key(clock, make_case, settings):
    case = make_case()
    run_due(WEDNESDAY)
    send_all(WEDNESDAY)
    [sms_step] = live(case)
    assert sms_step.channel == "sms"
    later = dt.datetime(2026, 11, 30, 9, 30, tzinfo=dt.UTC)  # Monday 10:30 Madrid
    clock.move_to(later)
    assert run_due(later) == ["queued"]
    message = OutboundMessage.objects.get(case=case, channel="sms")
    assert outbox.message_send(message_id=message.pk, now=later) == "sent"
    from contacts.messaging.sms import FileSMSBackend

    backend = FileSMSBackend()
    backend.send(to=message.recipient, body="again", idempotency_key=message.idempotency_key)
    files = list(Path(settings.CRM_SMS_FILE_PATH).glob("*.json"))
    assert [f.name for f in files] == [f"{message.idempotency_key}.json"]
    assert "again" not in files[0].read_text()


def test_refused_at_send_time_is_moved_and_recorded(clock, make_case):
    case = make_case()
    [fu] = live(case)
    saturday = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
    clock.move_to(saturday)
    assert run_due(saturday) == ["rescheduled"]
    fu.refresh_from_db()
    assert (fu.status, fu.policy_reason) == ("pending", "weekday_not_allowed")
    assert fu.due_at == dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)  # Monday 09:00 Madrid
    refusal = ContactRefusal.objects.get(case=case)
    assert (refusal.reason, refusal.stage, refusal.followup_id, refusal.pack.code) == ("weekday_not_allowed", "send", fu.pk, "es")
    assert not OutboundMessage.objects.exists()
    case.refresh_from_db()
    assert case.next_action_at == fu.due_at


def test_opted_out_email_skips_the_step_and_records_why(clock, make_case, make_debtor):
    case = make_case(debtor=make_debtor(opted_out=True))
    assert run_due(WEDNESDAY) == ["skipped"]
    assert ContactRefusal.objects.get(case=case, stage="send").reason == "point_opted_out"
    assert not OutboundMessage.objects.exists()
    [nxt] = live(case)
    assert (nxt.objective, nxt.step, nxt.channel) == ("remind", 1, "sms")


def test_promise_reminder_then_broken_then_get_commitment(clock, make_case):
    case = make_case()
    promise_record(actor=None, case_id=case.pk, amount=Decimal("300.00"), due_date=dt.date(2026, 11, 27), now=WEDNESDAY)
    [reminder] = live(case)
    assert (reminder.purpose, reminder.channel, reminder.objective) == ("promise_reminder", "sms", "get_commitment")
    assert reminder.due_at == dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    assert FollowUp.objects.get(case=case, status="cancelled").channel == "email"

    thursday = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    clock.move_to(thursday)
    assert run_due(thursday) == ["queued"]
    assert "300,00 €" in OutboundMessage.objects.get(case=case).body
    case.refresh_from_db()
    assert live(case) == [] and said(case.next_action_note).startswith("Check the payment due 11/27/2026")

    # The 28th is the grace day; on the 29th the promise is broken and the case replanned.
    assert engine.promises_sweep(now=dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC))["broken"] == 0
    sunday = dt.datetime(2026, 11, 29, 8, 0, tzinfo=dt.UTC)
    clock.move_to(sunday)
    assert engine.promises_sweep(now=sunday) == {"broken": 1, "partial": 0, "missed": 0, "defaulted": 0}
    assert engine.promises_sweep(now=sunday)["broken"] == 0
    case.refresh_from_db()
    assert PromiseToPay.objects.get(case=case).status == "broken"
    assert (case.status, case.objective) == ("active", "get_commitment")
    assert said(case.objective_reason).startswith("Promise of 11/27/2026 broken on 11/29/2026")
    [call] = live(case)
    assert (call.kind, call.channel) == ("agent_task", "phone")
    assert call.due_at == dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)  # Sunday → Monday 09:00 Madrid
    assert call.policy_reason == "weekday_not_allowed"
    assert AuditLog.objects.filter(action="promise.broken").count() == 1
    assert AuditLog.objects.filter(action="case.objective_changed", case_id=case.pk).exists()


def test_partly_paid_promise_is_partial(clock, make_case):
    case = make_case()
    promise_record(actor=None, case_id=case.pk, amount=Decimal("300.00"), due_date=dt.date(2026, 11, 27), now=WEDNESDAY)
    payment_post(actor=None, case_id=case.pk, amount=Decimal("100.00"), received_on=dt.date(2026, 11, 25), now=WEDNESDAY)
    assert engine.promises_sweep(now=dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC))["partial"] == 1
    assert PromiseToPay.objects.get(case=case).status == "partial"


def test_missed_instalments_default_the_plan(clock, make_case):
    case = make_case()
    plan = PaymentPlan.objects.create(case=case, total_amount=Decimal("300"), instalment_count=3,
                                      first_due_date=dt.date(2026, 11, 1), created_at=WEDNESDAY - 30 * DAY)
    for n, day in enumerate([dt.date(2026, 11, 1), dt.date(2026, 11, 15), dt.date(2026, 12, 1)], start=1):
        Instalment.objects.create(plan=plan, number=n, due_date=day, amount=Decimal("100"))
    counts = engine.promises_sweep(now=WEDNESDAY)
    assert (counts["missed"], counts["defaulted"]) == (2, 1)
    plan.refresh_from_db()
    case.refresh_from_db()
    assert plan.status == "defaulted"
    assert case.objective == "get_commitment" and "broken" in said(case.objective_reason)


def test_agent_contact_completes_the_call_task(clock, make_case, agent):
    case = make_case()
    barrier_open(actor=agent, case_id=case.pk, kind="invoice_copy", now=WEDNESDAY)
    [task] = live(case)
    assert (task.objective, task.kind, task.channel) == ("remove_barriers", "agent_task", "phone")
    case.refresh_from_db()
    assert said(case.objective_reason).startswith("Payment barrier open since 11/25/2026")
    later = WEDNESDAY + dt.timedelta(hours=2)
    clock.move_to(later)
    contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome="right_party", now=later)
    task.refresh_from_db()
    assert (task.status, task.completed_by_id) == ("done", agent.pk)
    assert task.completed_attempt.outcome == "right_party"
    [nxt] = live(case)
    assert (nxt.objective, nxt.step, nxt.channel) == ("remove_barriers", 1, "email")


def test_agreed_callback_becomes_an_agent_task(clock, make_case, agent):
    case = make_case()
    at = WEDNESDAY + 2 * DAY
    contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome="callback", next_step="Llamar tras la nómina",
                        next_step_at=at, now=WEDNESDAY)
    [task] = live(case)
    assert (task.purpose, task.due_at, task.kind) == ("callback", at, "agent_task")
    case.refresh_from_db()
    assert case.next_action_at == at and "Llamar tras la nómina" in said(case.next_action_note)


def test_payment_in_full_closes_and_dispute_pauses(clock, make_case, agent):
    paid = make_case()
    payment_post(actor=None, case_id=paid.pk, amount=Decimal("1000.00"), received_on=dt.date(2026, 11, 25), now=WEDNESDAY)
    paid.refresh_from_db()
    assert live(paid) == [] and paid.next_action_at is None and said(paid.objective_reason) == "Paid in full: case closed"

    disputed = make_case()
    contact_attempt_log(actor=agent, case_id=disputed.pk, channel="phone", outcome="dispute", now=WEDNESDAY)
    disputed.refresh_from_db()
    assert disputed.status == "disputed" and live(disputed) == []
    # Collection stops, but the dispute is the agent's task, due at once; a time they choose is kept.
    assert disputed.paused_at == WEDNESDAY and said(disputed.objective_reason) == "Paused: dispute open"
    assert disputed.next_action_at == WEDNESDAY and said(disputed.next_action_note).startswith("The debtor disputes the debt")
    later = WEDNESDAY + dt.timedelta(days=3)
    case_schedule_followup(actor=agent, case_id=disputed.pk, at=later, now=WEDNESDAY)
    case_replan(case=disputed, actor=agent, now=WEDNESDAY + dt.timedelta(hours=1))
    disputed.refresh_from_db()
    assert disputed.next_action_at == later


def test_consequence_applied_moves_to_change_terms(clock, make_case, agent):
    case = make_case()
    for day in (dt.date(2026, 11, 26), dt.date(2026, 11, 27)):
        promise_record(actor=None, case_id=case.pk, amount=Decimal("10"), due_date=day, now=WEDNESDAY)
    PromiseToPay.objects.filter(case=case).update(status="broken", resolved_at=WEDNESDAY)
    with transaction.atomic():
        case_replan(case=Case.objects.get(pk=case.pk), actor=None, now=WEDNESDAY)
    [letter] = live(case)
    assert (letter.objective, letter.channel) == ("pressure", "letter")
    # Walk the pressure cadence: the letter, the call, then the consequence task done by the agent.
    assert run_due(WEDNESDAY) == ["queued"]
    send_all(WEDNESDAY)
    for _ in range(2):
        [task] = live(case)
        assert task.kind == "agent_task"
        engine.followup_complete(followup_id=task.pk, actor=agent, now=WEDNESDAY + DAY, result="done")
    case.refresh_from_db()
    assert case.objective == "change_terms"
    assert said(case.objective_reason).startswith("Consequence applied on 11/26/2026")
    assert live(case)[0].channel == "letter"


def test_letters_are_rendered_into_a_print_batch(clock, make_case):
    case = make_case()
    PromiseToPay.objects.create(case=case, amount=Decimal("5"), due_date=dt.date(2026, 11, 1), status="broken",
                                resolved_at=WEDNESDAY, created_at=WEDNESDAY)
    PromiseToPay.objects.create(case=case, amount=Decimal("5"), due_date=dt.date(2026, 11, 2), status="broken",
                                resolved_at=WEDNESDAY, created_at=WEDNESDAY)
    with transaction.atomic():
        case_replan(case=Case.objects.get(pk=case.pk), actor=None, now=WEDNESDAY)
    assert run_due(WEDNESDAY) == ["queued"]
    assert send_all(WEDNESDAY) == ["sent"]
    message = OutboundMessage.objects.get(case=case)
    assert message.channel == "letter" and message.print_batch.day == dt.date(2026, 11, 25)
    assert outbox.print_batches_render(now=WEDNESDAY) == [message.print_batch_id]
    assert outbox.print_batches_render(now=WEDNESDAY) == []
    batch = PrintBatch.objects.get()
    assert Path(batch.pdf.path).read_bytes().startswith(b"%PDF")


def test_contact_check_at_call_start_records_the_refusal(clock, make_case, make_debtor, agent):
    case = make_case(debtor=make_debtor(country="US", timezone="America/New_York"))
    now = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York
    for h in range(1, 8):
        ContactAttempt.objects.create(case=case, channel="phone", occurred_at=now - dt.timedelta(hours=h), objective="remind",
                                      outcome="no_answer", agent=agent)
    decision = contact_check(case=case, channel="phone", now=now, actor=agent)
    assert (decision.allowed, decision.reason, decision.calls_left_week) == (False, "weekly_call_cap", 0)
    # (The first step, scheduled at 05:00 New York, was a refusal at schedule time.)
    refusal = ContactRefusal.objects.exclude(stage="schedule").get()
    assert (refusal.stage, refusal.user_id, refusal.pack.code) == ("call", agent.pk, "us-reg-f")
    assert contact_check(case=case, channel="email", now=now).allowed


def test_only_the_collectors_calls_count_and_any_conversation_starts_the_pause(clock, make_case, make_debtor, agent):
    case = make_case(debtor=make_debtor(country="US", timezone="America/New_York"))
    now = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)  # Wednesday 10:00 in New York
    for h in range(1, 8):  # seven calls from the debtor, none answered
        ContactAttempt.objects.create(case=case, channel="phone", direction="inbound", occurred_at=now - dt.timedelta(hours=h),
                                      objective="remind", outcome="no_answer")
    ContactAttempt.objects.create(case=case, channel="phone", occurred_at=now - dt.timedelta(hours=9), objective="remind",
                                  outcome="no_answer", agent=agent)
    history = contact_histories(cases=[(case.pk, case.debtor_id)], now=now)[case.pk]
    assert (len(history.case_calls), history.last_conversation_at) == (1, None)
    decision = contact_check(case=case, channel="phone", now=now, record=False)
    assert (decision.allowed, decision.calls_left_week) == (True, 6)
    # The debtor called on Monday at 22:00 New York time and we talked: calls pause through
    # Sunday the 29th; Monday 30 November is the 8th day, open from 08:00 EST.
    talked = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)
    ContactAttempt.objects.create(case=case, channel="phone", direction="inbound", occurred_at=talked, objective="remind",
                                  outcome="right_party", agent=agent)
    decision = contact_check(case=case, channel="phone", now=now, actor=agent)
    assert (decision.allowed, decision.reason, decision.next_allowed_at) == (
        False, "conversation_pause", dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC))


# Wednesday 25 November 2026, 08:30 in New York and 05:30 in Los Angeles; 08:00 there is 16:00 UTC.
NY_MORNING = dt.datetime(2026, 11, 25, 13, 30, tzinfo=dt.UTC)
LA_OPENS = dt.datetime(2026, 11, 25, 16, 0, tzinfo=dt.UTC)


def test_an_uncertain_zone_is_refused_until_every_candidate_zone_is_open(clock, make_case, make_debtor, agent):
    clock.move_to(NY_MORNING)
    debtor = make_debtor(country="US", timezone="America/New_York", phone=False)
    contact_point_add(actor=agent, debtor=debtor, kind="phone", value="+14155550123", consent=True)  # San Francisco
    case = make_case(debtor=debtor, now=NY_MORNING)
    decision = contact_check(case=case, channel="phone", now=NY_MORNING, actor=agent)
    assert (decision.allowed, decision.reason, decision.next_allowed_at) == (False, "outside_hours", LA_OPENS)
    refusal = ContactRefusal.objects.get(stage="call")
    assert (refusal.reason, refusal.next_allowed_at, refusal.user) == ("outside_hours", LA_OPENS, agent)
    # The plan made with the case (facts → planner) waits for Los Angeles too, and so does the queue.
    [step] = live(case)
    assert step.due_at == LA_OPENS
    status = contact_status_for_cases(cases=[case], now=NY_MORNING)[case.pk]
    assert (status.callable_now, status.next_allowed_at) == (False, LA_OPENS)

    # An agent confirms New York: the debtor's open cases are replanned at once, with New York's
    # hours only. (A live step that is still the right one is kept as it is; this one is
    # cancelled first so that the replan has to make the step again.)
    FollowUp.objects.filter(case=case).update(status="cancelled")
    debtor_confirm_timezone(actor=agent, debtor_id=debtor.pk, timezone="America/New_York", now=NY_MORNING)
    [step] = live(case)
    assert step.due_at == NY_MORNING
    assert contact_check(case=case, channel="phone", now=NY_MORNING, record=False).allowed
    assert contact_status_for_cases(cases=[case], now=NY_MORNING)[case.pk].callable_now


def test_queue_contact_status_in_constant_queries(clock, make_case, make_debtor, django_assert_num_queries):
    cases = [make_case() for _ in range(3)]
    with django_assert_num_queries(5):
        # packs, debtors, contact points, calls on the cases, contacts to the debtors
        few = contact_status_for_cases(cases=cases, now=WEDNESDAY)
    cases += [make_case(debtor=make_debtor(country="US", timezone="America/New_York")) for _ in range(7)]
    with django_assert_num_queries(5):
        many = contact_status_for_cases(cases=cases, now=WEDNESDAY)
    assert all(s.callable_now for s in few.values())
    us = many[cases[-1].pk]
    assert (us.callable_now, us.reason, us.calls_left_week) == (False, "outside_hours", 7)  # 05:00 in New York
    assert us.next_allowed_at == dt.datetime(2026, 11, 25, 13, 0, tzinfo=dt.UTC)


def test_flag_lifted_case_is_picked_up_again(clock, make_case):
    """The safety net: a case left without a plan (here: the flag lifted by a direct write that
    bypassed the debtor services) is planned by the sweep."""
    from debtors.models import Debtor

    case = make_case()
    debtor_set_flags(actor=None, debtor_id=case.debtor_id, cease_communication=True)
    case.refresh_from_db()
    assert live(case) == [] and "Paused: cease communication requested" == said(case.objective_reason)
    assert engine.cases_replan_forgotten(now=WEDNESDAY) == 0
    Debtor.objects.filter(pk=case.debtor_id).update(cease_communication=False)
    Case.objects.filter(pk=case.pk).update(next_action_at=None)
    assert engine.cases_replan_forgotten(now=WEDNESDAY) == 1
    assert len(live(case)) == 1


@pytest.mark.parametrize("flag", ["do_not_contact", "cease_communication", "attorney_represented", "deceased", "bankruptcy"])
def test_debtor_flag_replans_all_open_cases_of_the_debtor_at_once(clock, make_case, make_debtor, agent, flag):
    debtor = make_debtor()
    first, second = make_case(debtor=debtor), make_case(debtor=debtor, days_overdue=130)
    other = make_case()
    closed = make_case(debtor=debtor)
    Case.objects.filter(pk=closed.pk).update(status="closed")
    FollowUp.objects.filter(case=closed).delete()
    assert len(live(first)) == len(live(second)) == len(live(other)) == 1
    scheduled = [fu.pk for fu in [*live(first), *live(second)]]

    debtor_set_flags(actor=agent, debtor_id=debtor.pk, now=WEDNESDAY, **{flag: True})

    # No sweep ran: the service itself cancelled the scheduled contacts of both open cases.
    assert live(first) == live(second) == []
    assert set(FollowUp.objects.filter(pk__in=scheduled).values_list("status", flat=True)) == {"cancelled"}
    for case in (first, second):
        case.refresh_from_db()
        assert said(case.objective_reason).startswith("Paused: ") and case.next_action_at is None
    assert len(live(other)) == 1  # another debtor's case is untouched
    assert AuditLog.objects.filter(action="debtor.flags_changed", object_id=str(debtor.pk), actor=agent).count() == 1

    debtor_set_flags(actor=agent, debtor_id=debtor.pk, now=WEDNESDAY, **{flag: False})
    assert len(live(first)) == len(live(second)) == 1
    assert live(closed) == []  # only open cases are planned


def test_debtor_update_of_flags_or_zone_replans_and_other_edits_do_not(clock, make_case, make_debtor, agent):
    from debtors.services import debtor_update

    debtor = make_debtor()
    case = make_case(debtor=debtor)
    before = live(case)
    debtor_update(actor=agent, debtor_id=debtor.pk, changes={"notes": "prefers mornings"}, now=WEDNESDAY)
    assert live(case) == before
    debtor_update(actor=agent, debtor_id=debtor.pk, changes={"attorney_represented": True}, now=WEDNESDAY)
    assert live(case) == []
    case.refresh_from_db()
    assert said(case.objective_reason) == "Paused: represented by an attorney"


def test_debtor_flag_change_rolls_back_with_its_replan(clock, make_case, make_debtor):
    """The flag and the replan are one transaction: if the caller fails, neither is kept."""
    debtor = make_debtor()
    case = make_case(debtor=debtor)
    scheduled = live(case)
    with pytest.raises(RuntimeError), transaction.atomic():
        debtor_set_flags(actor=None, debtor_id=debtor.pk, now=WEDNESDAY, deceased=True)
        assert live(case) == []
        raise RuntimeError("caller failed")
    assert live(case) == scheduled


def test_portfolio_plan_is_idempotent_and_matches_single_case_plans(clock, make_case, agent):
    cases = [make_case(days_overdue=d) for d in (0, 5, 130)]
    barrier_open(actor=agent, case_id=cases[1].pk, kind="invoice_copy", now=WEDNESDAY)
    single = {c.pk: Case.objects.get(pk=c.pk).objective for c in cases}
    FollowUp.objects.all().delete()
    Case.objects.update(objective="remind", objective_reason={}, next_action_at=None, next_action_note={})
    stats = engine.followups_plan_portfolio(now=WEDNESDAY, batch=2)
    assert (stats.cases, stats.created) == (3, 3)
    assert {c.pk: Case.objects.get(pk=c.pk).objective for c in cases} == single == {
        cases[0].pk: "remind", cases[1].pk: "remove_barriers", cases[2].pk: "pressure"}
    again = engine.followups_plan_portfolio(now=WEDNESDAY)
    assert (again.created, again.kept, again.cancelled) == (0, 3, 0)


@pytest.mark.parametrize("copy_min_rows", [0, 10_000])
def test_portfolio_plan_bulk_writes_match_the_orm_writes(clock, make_case, make_debtor, agent, monkeypatch, copy_min_rows):
    """The portfolio replan writes through COPY on PostgreSQL (threshold 0 forces it even for a
    few rows; on SQLite the ORM path runs either way): same follow-ups, cases and audit rows,
    with text that needs quoting (a step's instructions with quotes, tabs and a newline)."""
    from collections_crm.core import bulk
    from contacts.models import CadenceStep

    monkeypatch.setattr(bulk, "COPY_MIN_ROWS", copy_min_rows)
    CadenceStep.objects.filter(cadence__objective="pressure").update(instructions='Say "final"\tnotice,\nthen \\ wait')
    engine.strategy_invalidate()
    cases = [make_case(days_overdue=d) for d in (0, 5, 130)]
    barrier_open(actor=agent, case_id=cases[1].pk, kind="invoice_copy", now=WEDNESDAY)
    us_case = make_case(debtor=make_debtor(country="US", timezone="America/New_York"), days_overdue=0)
    cases.append(us_case)
    FollowUp.objects.all().delete()
    ContactRefusal.objects.all().delete()
    Case.objects.update(objective="remind", objective_reason={"text": "Earlier \"reason\"\tkept"}, next_action_at=None, next_action_note={})
    audits_before = AuditLog.objects.filter(action="case.objective_changed").count()

    stats = engine.followups_plan_portfolio(now=WEDNESDAY, actor=agent)

    assert (stats.cases, stats.created, stats.objective_changed, stats.moved_by_policy) == (4, 4, 2, 1)
    rows = {fu.case_id: fu for fu in FollowUp.objects.filter(status="pending")}
    assert set(rows) == {c.pk for c in cases}
    pressure = rows[cases[2].pk]
    assert (pressure.objective, pressure.rule_id is not None, pressure.completed_at, pressure.result) == (
        "pressure", True, None, "")
    assert pressure.instructions == 'Say "final"\tnotice,\nthen \\ wait'
    assert rows[cases[0].pk].cadence_step_id is not None and rows[cases[0].pk].policy_reason == ""
    moved = rows[us_case.pk]
    refusal = ContactRefusal.objects.get()
    assert (refusal.case_id, refusal.followup_id, refusal.stage, refusal.reason, refusal.next_allowed_at, refusal.user_id) == (
        us_case.pk, moved.pk, "schedule", "outside_hours", moved.due_at, agent.pk)
    case = Case.objects.get(pk=cases[2].pk)
    assert (case.objective, case.next_action_at) == ("pressure", pressure.due_at)
    audits = AuditLog.objects.filter(action="case.objective_changed").order_by("id")[audits_before:]
    assert len(audits) == 2
    assert {a.case_id for a in audits} == {cases[1].pk, cases[2].pk}
    assert all(a.actor_id == agent.pk and a.before == {"objective": "remind", "objective_reason": {"text": 'Earlier "reason"\tkept'}}
               for a in audits)
    for audit in audits:
        case = Case.objects.get(pk=audit.case_id)
        rule_id = rows[case.pk].rule_id
        assert audit.after == {"objective": case.objective, "objective_reason": case.objective_reason, "rule_id": rule_id}
        assert (audit.at, audit.object_type, audit.object_id, rule_id is not None) == (WEDNESDAY, "cases.case", str(case.pk), True)
    # A second run changes nothing: no write, no audit row.
    again = engine.followups_plan_portfolio(now=WEDNESDAY, actor=agent)
    assert (again.created, again.kept, again.cancelled, again.objective_changed) == (0, 4, 0, 0)
    assert ContactRefusal.objects.count() == 1


def test_step_moved_at_schedule_time_is_recorded_as_a_refusal(clock, make_case, make_debtor, agent):
    from collections_crm.reports.models import RefusalDaily
    from collections_crm.reports.services import facts_rebuild

    case = make_case(debtor=make_debtor(country="US", timezone="America/New_York"))
    [fu] = live(case)
    # 05:00 in New York: Regulation F hours move the reminder to 08:00 local (13:00 UTC).
    assert (fu.policy_reason, fu.due_at) == ("outside_hours", dt.datetime(2026, 11, 25, 13, 0, tzinfo=dt.UTC))
    refusal = ContactRefusal.objects.get(case=case)
    assert (refusal.stage, refusal.reason, refusal.channel, refusal.followup_id, refusal.next_allowed_at, refusal.at) == (
        "schedule", "outside_hours", fu.channel, fu.pk, fu.due_at, WEDNESDAY)
    assert refusal.pack.code == "us-reg-f"
    # Replanning keeps the step: no second refusal for the same move.
    with transaction.atomic():
        case_replan(case=Case.objects.get(pk=case.pk), actor=agent, now=WEDNESDAY)
    assert ContactRefusal.objects.filter(case=case).count() == 1
    # A step the policy allows is not a refusal.
    allowed = make_case()
    assert live(allowed)[0].policy_reason == "" and not ContactRefusal.objects.filter(case=allowed).exists()
    # The supervisor's refusal figures count it.
    facts_rebuild(now=WEDNESDAY, full=True)
    assert list(RefusalDaily.objects.values_list("reason", "channel", "refusals")) == [("outside_hours", fu.channel, 1)]


def test_batch_execution_plans_every_case_once_and_isolates_a_failing_step(clock, make_case, monkeypatch):
    from contacts.engine import execution

    cases = [make_case() for _ in range(4)]
    claimed = engine.followups_claim_due(now=WEDNESDAY)
    assert len(claimed) == 4
    broken = live(cases[3])[0].pk
    real = execution.message_create

    def flaky(*, followup, case, now):
        if followup.pk == broken:
            raise RuntimeError("template engine down")
        return real(followup=followup, case=case, now=now)

    monkeypatch.setattr(execution, "message_create", flaky)
    outcomes = engine.followups_execute(followup_ids=[*claimed, 999_999], now=WEDNESDAY)

    assert outcomes == {**dict.fromkeys([c for c in claimed if c != broken], "queued"), broken: "failed", 999_999: "missing"}
    assert OutboundMessage.objects.count() == 3
    for case in cases[:3]:
        [nxt] = live(case)  # the next step (SMS) of each executed case, planned in the same batch
        assert nxt.channel == "sms"
    # The failing step was rolled back alone: still claimed, handed out again when its lease ends.
    assert FollowUp.objects.get(pk=broken).status == "running"
    assert not AuditLog.objects.filter(action__startswith="followup.", object_id=str(broken)).exists()
    # Run twice: nothing more happens.
    monkeypatch.setattr(execution, "message_create", real)
    again = engine.followups_execute(followup_ids=[c for c in claimed if c != broken], now=WEDNESDAY)
    assert set(again.values()) == {"not-claimed"} and OutboundMessage.objects.count() == 3


def test_a_batch_reads_its_id_span_but_plans_and_writes_only_its_cases(clock, make_case, agent):
    """Planning reads a dense batch by id range (PostgreSQL): a case inside the range but not in
    the batch — with a worked agent task, a barrier and a live step — is neither planned nor
    written, and the batch's facts are its own."""
    cases = [make_case(days_overdue=d) for d in (0, 5, 130, 20)]
    outsider = cases[1]
    barrier_open(actor=agent, case_id=outsider.pk, kind="invoice_copy", now=WEDNESDAY)
    [task] = live(outsider)
    later = WEDNESDAY + dt.timedelta(hours=2)
    with transaction.atomic():
        # The agent's interaction, without the replan that logging it would trigger.
        ContactAttempt.objects.create(case=outsider, agent=agent, channel="phone", outcome="right_party",
                                      objective="remove_barriers", occurred_at=later)
    before = Case.objects.values("objective", "objective_reason", "next_action_at").get(pk=outsider.pk)
    batch = [c.pk for c in cases if c.pk != outsider.pk]

    facts, _rows = engine.facts_gather(batch, later)
    assert sorted(facts) == sorted(batch)
    assert all(f.open_barrier_at is None for f in facts.values())
    stats, plans = engine.followups_plan(case_ids=batch, now=later)
    assert stats.cases == 3 and sorted(plans) == sorted(batch) and stats.completed == 0
    task.refresh_from_db()
    assert task.status == "pending"
    assert Case.objects.values("objective", "objective_reason", "next_action_at").get(pk=outsider.pk) == before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks between two connections (SQLite has none)")
def test_a_batch_replan_leaves_a_case_an_agent_is_working_on_to_the_agent(clock, make_case):
    """A portfolio replan does not plan a case from facts read while an agent's action holds it
    (it would overwrite the action's plan, or clash with its new step and fail the batch): it
    skips the case, without waiting, and plans the others."""
    import threading

    from django.db import connections

    held, free = make_case(days_overdue=5), make_case(days_overdue=20)
    FollowUp.objects.filter(case__in=[held, free]).delete()
    holding, release, errors = threading.Event(), threading.Event(), []

    def agent_action():
        try:
            with transaction.atomic():
                Case.objects.select_for_update().get(pk=held.pk)
                holding.set()
                release.wait(30)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=agent_action)
    thread.start()
    assert holding.wait(10)
    try:
        stats, plans = engine.followups_plan(case_ids=[held.pk, free.pk], now=WEDNESDAY)
    finally:
        release.set()
        thread.join(30)
    assert not errors
    assert (stats.cases, stats.busy, sorted(plans)) == (1, 1, [free.pk])
    assert FollowUp.objects.filter(case=free, status="pending").exists() and not FollowUp.objects.filter(case=held).exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks between two connections (SQLite has none)")
def test_a_batch_replan_holds_the_rules_and_steps_it_points_to_until_its_commit(clock, make_case):
    """A batch writes its follow-ups without the per-row foreign-key checks (see
    bulk.foreign_key_checks_skipped): instead it locks the strategy rows they point to, so an
    admin deleting a cadence step meanwhile waits for the commit instead of leaving follow-ups
    pointing to nothing; and the checks are back on for the rest of the caller's transaction."""
    import threading

    from django.db import OperationalError, connections

    cases = [make_case(days_overdue=5), make_case(days_overdue=20)]
    FollowUp.objects.filter(case__in=cases).delete()
    outcome = []

    def admin_deletes(step_id):
        try:
            with transaction.atomic(), connections["default"].cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
                cursor.execute("DELETE FROM contacts_cadencestep WHERE id = %s", [step_id])
            outcome.append("deleted")
        except OperationalError:
            outcome.append("waited")
        finally:
            connections.close_all()

    with transaction.atomic():
        stats, _plans = engine.followups_plan(case_ids=[c.pk for c in cases], now=WEDNESDAY)
        with connection.cursor() as cursor:
            cursor.execute("SHOW session_replication_role")
            assert cursor.fetchone()[0] == "origin"
        step_id = FollowUp.objects.filter(case=cases[0], status="pending").values_list("cadence_step_id", flat=True).get()
        thread = threading.Thread(target=admin_deletes, args=[step_id])
        thread.start()
        thread.join(30)
    assert (stats.cases, stats.created, outcome) == (2, 2, ["waited"])


def test_a_call_step_is_scheduled_after_the_pause_that_follows_a_conversation(clock, make_case, make_debtor, agent):
    """Regulation F: no call within 7 days after a telephone conversation. The planner reads the
    case's calls for the steps that are calls, and moves the task past the pause."""
    case = make_case(debtor=make_debtor(country="US", timezone="America/New_York"))
    talked = WEDNESDAY - dt.timedelta(days=1)
    ContactAttempt.objects.create(case=case, agent=agent, channel="phone", outcome="right_party", objective="remind",
                                  occurred_at=talked)
    barrier_open(actor=agent, case_id=case.pk, kind="invoice_copy", now=WEDNESDAY)
    [task] = live(case)
    assert (task.channel, task.kind) == ("phone", "agent_task")
    # Moved (first by the hours, when planned outside them) to no sooner than the pause's end.
    assert task.policy_reason in ("conversation_pause", "outside_hours")
    assert task.due_at >= talked + dt.timedelta(days=7)


def test_a_task_result_longer_than_the_limit_is_refused_not_cut(db):
    """#19: the result was cut to 200 characters silently; now it is a field error."""
    with pytest.raises(ValidationError) as exc:
        engine.followup_complete(followup_id=0, actor=None, now=WEDNESDAY, result="x" * 201)
    assert "result" in exc.value.message_dict
