"""Table-driven tests of the pure objective planner, on the strategy the data migrations ship
(tests/contacts/test_method.py checks it is the one a fresh database holds)."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.utils import translation

from cases.reasons import reason_text
from contacts.engine import planner
from contacts.engine.planner import CaseFacts, Commitment, DoneStep, plan_case

UTC = dt.UTC
DEFAULTS = importlib.import_module("contacts.migrations.0004_followup_defaults")
METHOD = importlib.import_module("contacts.migrations.0009_engine_method")


def default_rules() -> list[planner.Rule]:
    rows = [(position, name, condition, threshold, 0, None, objective) for position, name, condition, threshold, objective, _d in DEFAULTS.RULES]
    rows += [(position, name, condition, threshold, window, Decimal(amount) if amount else None, objective)
             for position, name, condition, threshold, window, amount, objective, _d in METHOD.NEW_RULES]
    rows.sort(key=lambda r: r[0])
    return [planner.Rule(i, position, condition, objective, threshold, name, window, amount)
            for i, (position, name, condition, threshold, window, amount, objective) in enumerate(rows, start=1)]


def said(value, language: str = "en") -> str:
    """A stored reason as a reader of ``language`` sees it."""
    with translation.override(language):
        return reason_text(value)


def default_strategy() -> planner.Strategy:
    rules = tuple(default_rules())
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
        ("barrier", facts(open_barrier_at=NOW - DAY), "remove_barriers", "barrier open since 11/24/2026", "phone", "agent_task"),
        ("first excuse", facts(last_excuse_at=NOW - DAY), "get_commitment", "Excuse given on 11/24/2026", "phone", "agent_task"),
        ("broken promise", facts(broken_count=1, last_broken_at=NOW - 2 * DAY, last_broken_due=dt.date(2026, 11, 22)),
         "get_commitment", "Promise of 11/22/2026 broken on 11/23/2026", "phone", "agent_task"),
        ("repeated broken", facts(broken_count=2, last_broken_at=NOW - DAY, last_broken_due=dt.date(2026, 11, 23)),
         "pressure", "(2 broken)", "letter", "automatic"),
        ("refusal", facts(last_refusal_at=NOW - DAY, last_excuse_at=NOW - DAY), "pressure", "Refused to pay on 11/24/2026", "letter", "automatic"),
        ("consequence applied", facts(consequence_at=NOW - DAY, broken_count=2, last_broken_at=NOW - 20 * DAY),
         "change_terms", "Consequence applied on 11/24/2026", "letter", "automatic"),
        ("new promise after consequence", facts(consequence_at=NOW - 9 * DAY, last_commitment_at=NOW - 2 * DAY,
                                                 broken_count=1, last_broken_at=NOW - DAY),
         "get_commitment", "broken on 11/24/2026", "phone", "agent_task"),
        ("long overdue", facts(due_date=dt.date(2026, 7, 1)), "pressure", "147 days past due (120 or more)", "letter", "automatic"),
        ("barrier beats broken promises", facts(open_barrier_at=NOW, broken_count=3, last_broken_at=NOW - DAY),
         "remove_barriers", "Payment barrier", "phone", "agent_task"),
    ],
)
def test_objective_and_first_step(label, case_facts, objective, reason_part, channel, kind):
    plan = plan_case(case_facts, STRATEGY, NOW)
    assert plan.state == "active"
    assert plan.objective == objective, label
    assert reason_part.lower() in said(plan.reason).lower(), said(plan.reason)
    assert "→" in said(plan.reason)
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
    assert reason_part.lower() in said(plan.reason).lower()


def test_pending_promise_gets_a_reminder_the_day_before_at_ten_local():
    f = facts(commitment=Commitment("promise", Decimal("100.00"), dt.date(2026, 11, 28)), broken_count=1, last_broken_at=NOW - 5 * DAY)
    plan = plan_case(f, STRATEGY, NOW)
    assert plan.objective == "get_commitment"
    assert "Promise of 100.00 € due 11/28/2026" in said(plan.reason)
    assert "Promesa de 100,00 € con vencimiento el 28/11/2026" in said(plan.reason, "es")
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
    assert "Instalment of 50.00 €" in said(plan.reason)


def test_agreed_callback_comes_first():
    at = NOW + 2 * DAY
    plan = plan_case(facts(callback_at=at, callback_note="Call after payday", last_excuse_at=NOW), STRATEGY, NOW)
    assert (plan.step.purpose, plan.step.kind, plan.step.due_at) == (planner.CALLBACK, "agent_task", at)
    assert plan.objective == "get_commitment"
    assert "Call after payday" in said(plan.next_action_note)


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


def test_seeded_step_instructions_in_the_readers_language_and_an_admins_own_text_as_written():
    """The shipped cadences' instructions are in the catalogue: stored as written, shown in the
    reader's language; an admin's rewrite has no entry and is kept word for word."""
    first_excuse = facts(last_excuse_at=NOW - DAY)
    plan = plan_case(first_excuse, STRATEGY, NOW)
    assert plan.step.instructions == "Get a specific commitment: amount, date and method."
    assert said(plan.next_action_note) == "Phone call · Get a commitment: Get a specific commitment: amount, date and method."
    assert said(plan.next_action_note, "es").endswith("Consiga un compromiso concreto: importe, fecha y medio de pago.")
    own = default_strategy()
    steps = own.cadences["get_commitment"].steps
    own.cadences["get_commitment"] = planner.CadenceInfo("get_commitment", (
        planner.Step(None, 0, 0, "phone", "agent_task", dt.time(10), None, "Pregunte por la nómina de diciembre.", False), *steps[1:],
    ), own.cadences["get_commitment"].repeat_every_days)
    plan = plan_case(first_excuse, own, NOW)
    assert said(plan.next_action_note, "en").endswith("Pregunte por la nómina de diciembre.")
