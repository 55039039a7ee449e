"""Table-driven tests of the pure objective planner, on the strategy the data migration ships."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest

from contacts.engine import planner
from contacts.engine.planner import CaseFacts, Commitment, DoneStep, plan_case

UTC = dt.UTC
DEFAULTS = importlib.import_module("contacts.migrations.0004_followup_defaults")


def default_strategy() -> planner.Strategy:
    rules = tuple(
        planner.Rule(i, position, condition, objective, threshold, name)
        for i, (position, name, condition, threshold, objective, _d) in enumerate(DEFAULTS.RULES, start=1)
    )
    cadences = {}
    for objective, (_name, repeat, steps) in DEFAULTS.CADENCES.items():
        cadences[objective] = planner.CadenceInfo(objective, tuple(
            planner.Step(None, pos, delay, channel, kind, dt.time(10), None, instr, consequence)
            for pos, (delay, channel, kind, _t, instr, consequence) in enumerate(steps)
        ), repeat)
    return planner.Strategy(rules=rules, cadences=cadences)


STRATEGY = default_strategy()
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # Wednesday 11:00 in Madrid
DAY = dt.timedelta(days=1)


def facts(**kw) -> CaseFacts:
    base = dict(case_id=1, status="active", due_date=dt.date(2026, 11, 15), created_at=NOW - 3 * DAY)
    base.update(kw)
    return CaseFacts(**base)


@pytest.mark.parametrize(
    "label, case_facts, objective, reason_part, channel, kind",
    [
        ("not yet due", facts(due_date=dt.date(2026, 12, 10), created_at=NOW), "remind", "Not yet due", "email", "automatic"),
        ("new and just overdue", facts(created_at=NOW - DAY), "remind", "New case, 10 days past due", "email", "automatic"),
        ("barrier", facts(open_barrier_at=NOW - DAY), "remove_barriers", "barrier open since 24/11/2026", "phone", "agent_task"),
        ("first excuse", facts(last_excuse_at=NOW - DAY), "get_commitment", "Excuse given on 24/11/2026", "phone", "agent_task"),
        ("broken promise", facts(broken_count=1, last_broken_at=NOW - 2 * DAY, last_broken_due=dt.date(2026, 11, 22)),
         "get_commitment", "Promise of 22/11/2026 broken 2 days ago", "phone", "agent_task"),
        ("repeated broken", facts(broken_count=2, last_broken_at=NOW - DAY, last_broken_due=dt.date(2026, 11, 23)),
         "pressure", "(2 broken)", "letter", "automatic"),
        ("refusal", facts(last_refusal_at=NOW - DAY, last_excuse_at=NOW - DAY), "pressure", "Refused to pay on 24/11/2026", "letter", "automatic"),
        ("consequence applied", facts(consequence_at=NOW - DAY, broken_count=2, last_broken_at=NOW - 20 * DAY),
         "change_terms", "Consequence applied on 24/11/2026", "letter", "automatic"),
        ("new promise after consequence", facts(consequence_at=NOW - 9 * DAY, last_commitment_at=NOW - 2 * DAY,
                                                 broken_count=1, last_broken_at=NOW - DAY),
         "get_commitment", "broken 1 day ago", "phone", "agent_task"),
        ("long overdue", facts(due_date=dt.date(2026, 7, 1)), "pressure", "147 days past due (120 or more)", "letter", "automatic"),
        ("barrier beats broken promises", facts(open_barrier_at=NOW, broken_count=3, last_broken_at=NOW - DAY),
         "remove_barriers", "Payment barrier", "phone", "agent_task"),
    ],
)
def test_objective_and_first_step(label, case_facts, objective, reason_part, channel, kind):
    plan = plan_case(case_facts, STRATEGY, NOW)
    assert plan.state == "active"
    assert plan.objective == objective, label
    assert reason_part.lower() in plan.reason.lower(), plan.reason
    assert "→" in plan.reason
    assert (plan.step.channel, plan.step.kind, plan.step.step) == (channel, kind, 0)
    assert plan.next_action_at == plan.step.due_at >= NOW


@pytest.mark.parametrize(
    "case_facts, state, reason_part",
    [
        (facts(status="paid"), "closed", "Paid in full"),
        (facts(status="closed"), "closed", "closed"),
        (facts(status="disputed"), "paused", "Dispute"),
        (facts(status="on_hold"), "paused", "On hold"),
        (facts(debtor_flags=frozenset({"cease_communication"})), "paused", "Cease communication"),
        (facts(debtor_flags=frozenset({"attorney_represented"})), "paused", "attorney"),
    ],
)
def test_closed_and_paused_cases_get_no_step(case_facts, state, reason_part):
    plan = plan_case(case_facts, STRATEGY, NOW)
    assert (plan.state, plan.step, plan.next_action_at) == (state, None, None)
    assert reason_part.lower() in plan.reason.lower()


def test_pending_promise_gets_a_reminder_the_day_before_at_ten_local():
    f = facts(commitment=Commitment("promise", Decimal("100.00"), dt.date(2026, 11, 28)), broken_count=1, last_broken_at=NOW - 5 * DAY)
    plan = plan_case(f, STRATEGY, NOW)
    assert plan.objective == "get_commitment"
    assert "Promise of 100.00 EUR due 28/11/2026" in plan.reason
    step = plan.step
    assert (step.purpose, step.channel, step.kind) == (planner.PROMISE_REMINDER, "sms", "automatic")
    assert step.due_at == dt.datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # 10:00 in Madrid (UTC+1)


def test_promise_already_reminded_waits_for_the_check():
    due = dt.date(2026, 11, 26)
    anchor = dt.datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # midnight in Madrid
    f = facts(commitment=Commitment("instalment", Decimal("50.00"), due), reminded_anchors=frozenset({anchor}))
    plan = plan_case(f, STRATEGY, NOW)
    assert plan.step is None
    # Checked once the grace day has passed: midnight Madrid at the start of the 28th.
    assert plan.next_action_at == dt.datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
    assert "Instalment of 50.00" in plan.reason


def test_agreed_callback_comes_first():
    at = NOW + 2 * DAY
    plan = plan_case(facts(callback_at=at, callback_note="Call after payday", last_excuse_at=NOW), STRATEGY, NOW)
    assert (plan.step.purpose, plan.step.kind, plan.step.due_at) == (planner.CALLBACK, "agent_task", at)
    assert plan.objective == "get_commitment"
    assert "Call after payday" in plan.next_action_note


def test_cadence_advances_from_the_anchor():
    anchor = NOW - DAY
    done = DoneStep("remind", anchor, 0, anchor)
    plan = plan_case(facts(created_at=anchor, last_done=done), STRATEGY, NOW)
    # remind: e-mail on day 0, SMS on day 3 at 10:00 Madrid.
    assert (plan.step.step, plan.step.channel) == (1, "sms")
    assert plan.step.due_at == dt.datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_late_case_keeps_the_cadence_spacing():
    anchor = NOW - 20 * DAY
    done = DoneStep("remind", anchor, 0, NOW - DAY)  # step 0 went out only yesterday
    plan = plan_case(facts(created_at=anchor, last_done=done), STRATEGY, NOW)
    # Not "now" (day 3 is long past): three days after yesterday's e-mail, at 10:00 local.
    assert plan.step.due_at == dt.datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_step_of_another_episode_restarts_the_cadence():
    done = DoneStep("remind", NOW - 10 * DAY, 2, NOW - 2 * DAY)
    plan = plan_case(facts(last_excuse_at=NOW - DAY, last_done=done), STRATEGY, NOW)
    assert (plan.objective, plan.step.step) == ("get_commitment", 0)


def test_exhausted_cadence_repeats_the_last_step_never_forgotten():
    anchor = NOW - 30 * DAY
    done = DoneStep("remind", anchor, 2, NOW - 2 * DAY)
    plan = plan_case(facts(created_at=anchor, last_done=done), STRATEGY, NOW)
    assert (plan.step.step, plan.step.channel, plan.step.kind) == (3, "phone", "agent_task")
    assert plan.step.due_at == dt.datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # +7 days at 10:00 Madrid


def test_rules_are_data_order_and_thresholds_matter():
    rules = (
        planner.Rule(1, 1, "excuse_given", "pressure"),
        planner.Rule(2, 2, "broken_promises_at_least", "change_terms", threshold=3),
        planner.Rule(3, 3, "always", "remind"),
    )
    strategy = planner.Strategy(rules=rules, cadences=STRATEGY.cadences)
    assert plan_case(facts(last_excuse_at=NOW), strategy, NOW).objective == "pressure"
    assert plan_case(facts(broken_count=2, last_broken_at=NOW), strategy, NOW).objective == "remind"
    assert plan_case(facts(broken_count=3, last_broken_at=NOW), strategy, NOW).objective == "change_terms"
    plan = plan_case(facts(broken_count=3, last_broken_at=NOW), strategy, NOW)
    assert plan.rule_id == 2


def test_objective_without_cadence_still_gets_a_step():
    strategy = planner.Strategy(rules=(planner.Rule(1, 1, "always", "pressure"),), cadences={})
    plan = plan_case(facts(), strategy, NOW)
    assert (plan.step.kind, plan.step.due_at) == ("agent_task", NOW)


def test_seeded_step_instructions_in_the_plans_language_and_an_admins_own_text_as_written():
    """The shipped cadences' instructions are in the catalogue (Spanish for a Spanish plan); an
    admin's rewrite has no entry and is kept word for word."""
    from django.utils import translation

    first_excuse = facts(last_excuse_at=NOW - DAY)
    with translation.override("en"):
        assert plan_case(first_excuse, STRATEGY, NOW, language="en").step.instructions == "Get a specific commitment: amount, date and method."
    with translation.override("es"):
        spanish = plan_case(first_excuse, STRATEGY, NOW, language="es")
    assert spanish.step.instructions == "Consiga un compromiso concreto: importe, fecha y medio de pago."
    assert spanish.next_action_note.endswith(spanish.step.instructions)
    own = default_strategy()
    steps = own.cadences["get_commitment"].steps
    own.cadences["get_commitment"] = planner.CadenceInfo("get_commitment", (
        planner.Step(None, 0, 0, "phone", "agent_task", dt.time(10), None, "Pregunte por la nómina de diciembre.", False), *steps[1:],
    ), own.cadences["get_commitment"].repeat_every_days)
    with translation.override("es"):
        assert plan_case(first_excuse, own, NOW, language="es").step.instructions == "Pregunte por la nómina de diciembre."
