"""The method (seeds 000–004, DOMAIN.md) on the SHIPPED defaults: the strategy rules, cadences and
excuse catalogue exactly as a fresh database holds them after the migrations, read back through
the engine's own loader. Each row is a situation an article describes; the planner must choose
the objective the article says, with a reason that names the fact."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from cases.reasons import reason_text
from contacts.engine import planner
from contacts.engine.planner import CaseFacts, Commitment, Statement, plan_case
from contacts.engine.strategy import strategy_load
from contacts.models import ExcuseCategory
from contacts.selectors import excuse_name

from .test_planner import default_rules

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)  # Wednesday 11:00 in Madrid
DAY = dt.timedelta(days=1)


@pytest.fixture
def shipped() -> planner.Strategy:
    return strategy_load()


def said(value, language: str = "en") -> str:
    with translation.override(language):
        return reason_text(value, excuse_name=excuse_name)


def statement(code: str | None, kind: str = "excuse", at: dt.datetime = NOW - DAY) -> Statement:
    """What the debtor said, with the shipped catalogue's view of the category."""
    if code is None:
        return Statement(at, kind)
    cat = ExcuseCategory.objects.get(code=code)
    return Statement(at, kind, cat.code, cat.is_barrier, cat.suggested_objective)


def case(**kw) -> CaseFacts:
    base = dict(case_id=1, status="active", due_date=dt.date(2026, 11, 20), created_at=NOW - 10 * DAY, balance=Decimal("850.00"))
    base.update(kw)
    return CaseFacts(**base)


def excuse(code: str | None, at: dt.datetime = NOW - DAY, **kw) -> dict:
    """The facts of a (last) excuse: its time, its category and how many in the last 30 days."""
    st = statement(code, "excuse", at)
    counts = kw.pop("counts", 0 if st.is_barrier else 1)
    return dict(last_excuse_at=at, last_statement=st, excuse_counts={30: counts}, last_contact_at=at, last_outcome="excuse", **kw)


# Each: (situation, facts, objective, reason code, words the English reason must contain)
SITUATIONS = [
    # Seed 001, objective 1: preventive collection and debts just overdue → remind.
    ("preventive: not yet due", lambda: case(due_date=dt.date(2026, 12, 15), created_at=NOW - DAY),
     "remind", "not_yet_due", "Not yet due → Remind"),
    ("new customer, just overdue", lambda: case(created_at=NOW - 2 * DAY),
     "remind", "new_case", "New case, 12 days past due → Remind"),
    ("reminded and answered, nothing said yet", lambda: case(last_contact_at=NOW - 3 * DAY, last_outcome="right_party"),
     "remind", "contacted", "Last contact on 11/29/2026 (Right-party contact), 12 days past due → Remind"),
    # Objective 2: something missing on our side → remove barriers.
    ("excuse: invoice not received (a barrier)", lambda: case(open_barrier_at=NOW - DAY, open_barrier_kind="invoice_copy",
                                                              **excuse("invoice_not_received")),
     "remove_barriers", "barrier_excuse", "Excuse: «Invoice not received» on 12/01/2026, a payment barrier → Remove barriers"),
    ("excuse: tax certificate missing", lambda: case(open_barrier_at=NOW - DAY, open_barrier_kind="tax_certificate",
                                                     **excuse("tax_certificate_missing")),
     "remove_barriers", "barrier_excuse", "«Updated tax certificate missing»"),
    ("barrier opened by the agent", lambda: case(open_barrier_at=NOW - 2 * DAY, open_barrier_kind="ap_contact"),
     "remove_barriers", "barrier_open", "Payment barrier open since 11/30/2026 (Accounts-payable contact) → Remove barriers"),
    ("barrier removed: the next objective follows", lambda: case(**excuse("invoice_not_received", at=NOW - 3 * DAY)),
     "get_commitment", "excuse", "Excuse: «Invoice not received» on 11/29/2026 → Get a commitment"),
    # Objective 3: from the first excuse on → get a commitment.
    ("first excuse: forgot", lambda: case(**excuse("forgot")),
     "get_commitment", "excuse", "Excuse: «Forgot» on 12/01/2026 → Get a commitment"),
    ("excuse without a category", lambda: case(**excuse(None)),
     "get_commitment", "excuse_plain", "Excuse given on 12/01/2026 → Get a commitment"),
    ("two excuses in a month: not yet repeated", lambda: case(**excuse("no_funds", counts=2)),
     "get_commitment", "excuse", "«No funds right now»"),
    ("a broken promise: when will you pay?", lambda: case(broken_count=1, last_broken_at=NOW - DAY, last_broken_due=dt.date(2026, 11, 30)),
     "get_commitment", "broken", "Promise of 11/30/2026 broken on 12/01/2026 → Get a commitment"),
    ("a promise pending: followed closely", lambda: case(status="promised", commitment=Commitment("promise", Decimal("300.00"), dt.date(2026, 12, 5)),
                                                         last_commitment_at=NOW - DAY),
     "get_commitment", "commitment_pending", "Promise of 300.00 € due 12/05/2026"),
    ("part paid, nothing agreed for the rest", lambda: case(balance=Decimal("500.00"), last_payment_at=NOW - 2 * DAY,
                                                            last_payment_amount=Decimal("350.00")),
     "get_commitment", "partial_payment", "Paid 350.00 € on 11/30/2026 with no agreement for the rest → Get a commitment"),
    ("acknowledged the debt, no date", lambda: case(acknowledged_at=NOW - DAY, last_contact_at=NOW - DAY, last_outcome="acknowledged"),
     "get_commitment", "acknowledged", "Acknowledged the debt on 12/01/2026 without a date to pay → Get a commitment"),
    # Seed 004: an argument is met with payment options, not with pressure.
    ("argument: lost their job", lambda: case(last_statement=statement("lost_income", "argument"), last_contact_at=NOW - DAY),
     "change_terms", "argument", "Argument: «Lost their job or income» on 12/01/2026, cannot pay now → Change terms"),
    ("argument without a category", lambda: case(last_statement=statement(None, "argument")),
     "change_terms", "argument_plain", "Argument on 12/01/2026: cannot pay now → Change terms"),
    ("argument, then a plan agreed", lambda: case(status="plan", last_statement=statement("lost_income", "argument", NOW - 5 * DAY),
                                                  commitment=Commitment("instalment", Decimal("100.00"), dt.date(2026, 12, 10)),
                                                  last_commitment_at=NOW - 4 * DAY),
     "get_commitment", "commitment_pending", "Instalment of 100.00 €"),
    ("an excuse whose usual objective is payment options", lambda: case(**excuse("illness")),
     "change_terms", "excuse", "«Illness or serious family problem»"),
    # Objective 4: hard accounts → pressure (within the law).
    ("excuses again and again (3 in 30 days)", lambda: case(**excuse("waiting_for_income", counts=3)),
     "pressure", "excuses_repeated", "3 excuses in 30 days, the last «Waiting for income to pay» on 12/01/2026 → Pressure"),
    ("promises broken again and again", lambda: case(broken_count=2, last_broken_at=NOW - DAY, last_broken_due=dt.date(2026, 11, 30)),
     "pressure", "broken_many", "(2 broken) → Pressure"),
    ("refuses to pay", lambda: case(last_refusal_at=NOW - DAY, last_contact_at=NOW - DAY, last_outcome="refusal"),
     "pressure", "refusal", "Refused to pay on 12/01/2026 → Pressure"),
    ("suspected fraud", lambda: case(last_refusal_at=NOW - DAY, **excuse("suspected_fraud")),
     "pressure", "refusal_excuse", "«Suspected fraud» on 12/01/2026 → Pressure"),
    ("a large debt stuck for two months", lambda: case(balance=Decimal("4200.00"), due_date=dt.date(2026, 9, 25), created_at=NOW - 60 * DAY),
     "pressure", "balance_at_least", "Balance of 4,200.00 € (3,000.00 € or more), 68 days past due → Pressure"),
    ("a small debt as old: still reminded", lambda: case(balance=Decimal("420.00"), due_date=dt.date(2026, 9, 25), created_at=NOW - 60 * DAY),
     "remind", "overdue", "68 days past due → Remind"),
    ("four months and no answer", lambda: case(due_date=dt.date(2026, 7, 1), created_at=NOW - 150 * DAY),
     "pressure", "days_past_due", "154 days past due (120 or more) → Pressure"),
    # Objective 5: after a consequence was actually applied → change terms.
    ("the consequence was applied", lambda: case(consequence_at=NOW - DAY, broken_count=2, last_broken_at=NOW - 20 * DAY),
     "change_terms", "consequence", "Consequence applied on 12/01/2026 → Change terms"),
]


@pytest.mark.parametrize("situation, make, objective, code, words", SITUATIONS, ids=[s[0] for s in SITUATIONS])
def test_the_shipped_defaults_choose_as_the_articles_say(shipped, situation, make, objective, code, words):
    plan = plan_case(make(), shipped, NOW)
    assert plan.state == "active"
    assert (plan.objective, plan.reason["code"]) == (objective, code), said(plan.reason)
    assert words in said(plan.reason), said(plan.reason)
    assert plan.next_action_at is not None and plan.next_action_at >= NOW


PAUSES = [
    ("dispute open", dict(status="disputed"), "disputed", "Paused: dispute open"),
    ("on hold", dict(status="on_hold"), "on_hold", "Paused: case on hold"),
    ("cease communication", dict(debtor_flags=frozenset({"cease_communication"})), "cease_communication", "Paused: cease communication"),
    ("attorney", dict(debtor_flags=frozenset({"attorney_represented"})), "attorney_represented", "Paused: represented by an attorney"),
    ("deceased", dict(debtor_flags=frozenset({"deceased"})), "deceased", "Paused: deceased"),
    ("bankruptcy", dict(debtor_flags=frozenset({"bankruptcy"})), "bankruptcy", "Paused: in bankruptcy"),
    ("do not contact", dict(debtor_flags=frozenset({"do_not_contact"})), "do_not_contact", "Paused: do not contact"),
]


@pytest.mark.parametrize("situation, kw, why, words", PAUSES, ids=[p[0] for p in PAUSES])
def test_disputes_holds_and_flags_pause_with_their_reason(shipped, situation, kw, why, words):
    plan = plan_case(case(broken_count=2, last_broken_at=NOW - DAY, **kw), shipped, NOW)
    assert (plan.state, plan.objective, plan.step, plan.paused_by) == ("paused", None, None, why)
    assert said(plan.reason) == said(plan.next_action_note)
    assert said(plan.reason).startswith(words)
    assert said(plan.reason, "es").startswith("En pausa")


def test_paid_closes_with_no_step(shipped):
    plan = plan_case(case(status="paid", balance=Decimal(0)), shipped, NOW)
    assert (plan.state, plan.step, said(plan.reason)) == ("closed", None, "Paid in full: case closed")


def test_the_tests_strategy_is_the_shipped_one(shipped):
    """tests/contacts/test_planner.py builds the strategy from the migrations' tables: it must be
    what a fresh database holds."""
    key = [(r.position, r.condition, r.objective, r.threshold, r.window_days, r.amount) for r in shipped.rules]
    assert key == [(r.position, r.condition, r.objective, r.threshold, r.window_days, r.amount) for r in default_rules()]


def test_reasons_follow_the_readers_language_with_local_dates_and_money(shipped):
    plan = plan_case(case(balance=Decimal("1234.50"), last_payment_at=NOW - 2 * DAY, last_payment_amount=Decimal("1200.00")), shipped, NOW)
    assert said(plan.reason, "en") == "Paid 1,200.00 € on 11/30/2026 with no agreement for the rest → Get a commitment"
    assert said(plan.reason, "es") == "Pagó 1\xa0200,00 € el 30/11/2026 sin acuerdo para el resto → Obtener un compromiso"
    barrier = plan_case(case(open_barrier_at=NOW - DAY, open_barrier_kind="invoice_copy", **excuse("invoice_not_received")), shipped, NOW)
    assert said(barrier.reason, "es") == "Excusa: «No ha recibido la factura» el 01/12/2026, una barrera de pago → Eliminar barreras"
    assert said(barrier.next_action_note, "es").startswith("Llamada telefónica · Eliminar barreras: ")


def test_every_contact_policy_code_and_pause_has_words():
    from cases.reasons import WHY
    from contacts.engine import planning, policy

    codes = {v for k, v in vars(policy).items() if k.isupper() and isinstance(v, str) and k not in ("WEEK",)}
    codes |= set(planner.PAUSING_FLAGS) | set(planner.PAUSED_STATUSES) | set(planning.PAUSE_CODES.values())
    assert codes <= set(WHY), codes - set(WHY)
    for code in codes:
        with translation.override("es"):
            spanish = str(WHY[code])
        with translation.override("en"):
            assert spanish != str(WHY[code]), code


def test_every_rule_condition_is_tested_by_the_planner():
    from contacts.models import RuleCondition

    assert set(planner.CONDITIONS) == set(RuleCondition.values)
