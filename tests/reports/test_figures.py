"""Dashboard figures against values computed by hand from the fixed portfolio (conftest)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cases.choices import Objective
from collections_crm.reports.models import AttemptDaily, MoneyDaily, PortfolioSnapshot, RefusalDaily, RollMonthly, TechniqueDaily
from collections_crm.reports.selectors import (
    REFUSAL_REASONS,
    activity_figures,
    drill_cases,
    objective_figures,
    portfolio_figures,
    promise_figures,
    recovery_over_time,
    refusal_figures,
    roll_rates,
    scope_for_user,
    technique_effectiveness,
)
from collections_crm.reports.services import facts_rebuild

from .conftest import NOW, TODAY

pytestmark = pytest.mark.django_db
MARCH = {"date_from": dt.date(2026, 3, 1), "date_to": TODAY}


def scope(user, **kw):
    return scope_for_user(user=user, today=TODAY, **{**MARCH, **kw})


def test_portfolio_for_the_supervisor(built, supervisor):
    p = portfolio_figures(scope(supervisor))
    # Placed in March: c1 only. Collected: 300 (c2) + 50 (c1) + 1500 (c4); c5 is another team's.
    assert (p["placed_cases"], p["placed_amount"]) == (1, Decimal("1000.00"))
    assert (p["payments"], p["collected"]) == (3, Decimal("1850.00"))
    # Open: c1 950, c2 500, c3 2000, c6 400 (unassigned cases are the supervisor's to hand out).
    assert (p["open_cases"], p["outstanding"]) == (4, Decimal("3850.00"))
    assert (p["no_next_step"], p["overdue"]) == (1, 1)  # c2 has none; c3's is 2 days late
    aging = {row["bucket"]: (row["cases"], row["balance"]) for row in p["aging"]}
    assert aging == {
        "current": (1, Decimal("950.00")), "1-30": (1, Decimal("500.00")), "31-60": (1, Decimal("2000.00")),
        "61-90": (0, Decimal("0.00")), "91-180": (0, Decimal("0.00")), "180+": (1, Decimal("400.00")),
    }


def test_filters_creditor_team_agent(built, supervisor, admin_user, team, other_team):
    assert portfolio_figures(scope(supervisor, creditor_id=built.k2.pk))["outstanding"] == Decimal("2400.00")  # c3 + c6
    assert portfolio_figures(scope(supervisor, agent=built.A))["outstanding"] == Decimal("1450.00")
    # A team filter leaves out unassigned cases.
    assert portfolio_figures(scope(supervisor, team=team))["outstanding"] == Decimal("3450.00")
    # Another team's agent or team gives the supervisor nothing, never their figures.
    assert portfolio_figures(scope(supervisor, agent=built.C))["outstanding"] == 0
    assert portfolio_figures(scope(supervisor, team=other_team))["outstanding"] == 0
    assert portfolio_figures(scope(admin_user))["outstanding"] == Decimal("6850.00")
    assert portfolio_figures(scope(admin_user, team=other_team))["outstanding"] == Decimal("3000.00")


def test_agent_sees_only_own(built):
    p = portfolio_figures(scope(built.A, team=None))
    assert (p["open_cases"], p["outstanding"], p["collected"]) == (2, Decimal("1450.00"), Decimal("350.00"))


def test_roll_rates_and_recovery(built, supervisor):
    rolls = {(r["bucket"]): r for r in roll_rates(scope(supervisor))["series"]}
    # Open at the end of February: c2 (4 days past due), c3 (39), c4 (89), c6 (180).
    assert set(rolls) == {"1-30", "31-60", "61-90", "91-180"}
    assert rolls["1-30"]["roll_rate"] == 0 and rolls["31-60"]["roll_rate"] == 0
    assert rolls["61-90"]["closed_rate"] == 1.0  # c4 paid in March
    assert rolls["91-180"]["roll_rate"] == 1.0 and rolls["91-180"]["balance"] == Decimal("400.00")
    # Balance at the end of February = today's + paid since: 800 + 2000 + 1500 + 400.
    march = recovery_over_time(scope(supervisor))[0]
    assert march["opening"] == Decimal("4700.00")
    assert march["collected"] == Decimal("1850.00")
    assert march["liquidation_rate"] == pytest.approx(1850 / 4700)


def test_promises(built, supervisor):
    p = promise_figures(scope(supervisor))
    total = p["total"]
    assert (total["made"], total["kept"], total["partial"], total["broken"], total["pending"]) == (4, 1, 1, 1, 1)
    assert total["amount"] == Decimal("1100.00") and total["amount_paid"] == Decimal("350.00")
    # Kept rate over resolved promises: 1 of 3, Wilson 95 % interval [0.0615, 0.7923].
    assert total["kept_rate"].rate == pytest.approx(1 / 3)
    assert total["kept_rate"].low == pytest.approx(0.0615, abs=1e-4)
    assert total["kept_rate"].high == pytest.approx(0.7923, abs=1e-4)
    by_agent = {r["agent_id"]: r for r in p["by_agent"]}
    assert by_agent[built.A.pk]["kept_rate"].rate == 0.5 and by_agent[built.B.pk]["kept_rate"].rate == 0
    assert built.C.pk not in by_agent
    by_objective = {r["objective"]: (r["made"], r["kept_rate"].successes, r["kept_rate"].n) for r in p["by_objective"]}
    # p3 has no interaction: it counts for the case's objective (remind); p4 for c3's (get_commitment).
    assert by_objective == {"remind": (1, 0, 1), "get_commitment": (2, 1, 1), "pressure": (1, 0, 1)}


def test_activity(built, supervisor):
    a = activity_figures(scope(supervisor))
    agents = {r["agent_id"]: r for r in a["agents"]}
    assert (agents[built.A.pk]["attempts"], agents[built.A.pk]["right_party"], agents[built.A.pk]["promises"]) == (2, 1, 2)
    assert agents[built.A.pk]["collected"] == Decimal("350.00") and agents[built.A.pk]["no_next_step"] == 1
    assert (agents[built.B.pk]["attempts"], agents[built.B.pk]["right_party"], agents[built.B.pk]["promises"]) == (2, 2, 2)
    assert agents[built.B.pk]["collected"] == Decimal("1500.00") and agents[built.B.pk]["overdue"] == 1
    assert built.C.pk not in agents
    days = {r["day"]: r for r in a["days"]}
    assert len(days) == 16 and days[dt.date(2026, 3, 2)]["attempts"] == 1 and days[dt.date(2026, 3, 10)]["collected"] == Decimal("1500.00")


def test_objectives(built, supervisor):
    o = objective_figures(scope(supervisor))
    rows = {r["objective"]: r for r in o["rows"]}
    assert rows["get_commitment"]["cases"] == 1 and rows["remind"]["cases"] == 3
    # get_commitment interactions: a1 (promise, money), a4 (nothing).
    assert (rows["get_commitment"]["attempts"], rows["get_commitment"]["promise_rate"].successes, rows["get_commitment"]["money_rate"].successes) == (2, 1, 1)
    assert [(m["from"], m["to"], m["moves"]) for m in o["moves"]] == [("remind", "get_commitment", 1)]
    assert o["moves"][0]["to_label"] == Objective.GET_COMMITMENT.label


def test_technique_effectiveness(built, supervisor, admin_user):
    rows = {r["technique_id"]: r for r in technique_effectiveness(scope(supervisor))["rows"]}
    d, po = rows[built.dialogue.pk], rows[built.options.pk]
    # Dialogue: a1 (promise, kept, money), a2 (promise p3 on 03-12, payment 03-13), a4 (nothing).
    assert (d["interactions"], d["promise"].successes, d["kept"].successes, d["money"].successes) == (3, 2, 1, 2)
    assert (d["promise"].low, d["promise"].high) == (pytest.approx(0.2077, abs=1e-4), pytest.approx(0.9385, abs=1e-4))
    # Payment options: a1 (all three), a3 (promise p2 broken, and p4 within 14 days; no money).
    assert (po["interactions"], po["promise"].successes, po["kept"].successes, po["money"].successes) == (2, 2, 1, 1)
    assert po["promise"].low == pytest.approx(0.3424, abs=1e-4) and po["promise"].high == 1.0
    assert not d["promise"].enough  # 3 interactions: shown, not ranked
    # The admin also sees agent9's a5 (promise kept, paid on 03-06).
    admin_rows = {r["technique_id"]: r for r in technique_effectiveness(scope(admin_user))["rows"]}
    assert (admin_rows[built.dialogue.pk]["interactions"], admin_rows[built.dialogue.pk]["promise"].successes) == (4, 3)
    by_excuse = technique_effectiveness(scope(supervisor), cut="excuse")["rows"]
    assert {(r["technique_id"], r["cut_value"], r["interactions"]) for r in by_excuse} == {
        (built.dialogue.pk, None, 2), (built.dialogue.pk, built.no_funds.pk, 1), (built.options.pk, None, 1), (built.options.pk, built.no_funds.pk, 1),
    }
    by_agent = technique_effectiveness(scope(supervisor), cut="agent")["rows"]
    assert {(r["technique_id"], r["cut_value"]): r["interactions"] for r in by_agent} == {
        (built.dialogue.pk, built.A.pk): 2, (built.dialogue.pk, built.B.pk): 1, (built.options.pk, built.A.pk): 1, (built.options.pk, built.B.pk): 1,
    }


def test_refusals(built, supervisor, admin_user):
    r = refusal_figures(scope(supervisor))
    assert r["total"] == 3
    assert [(x["reason"], x["refusals"]) for x in r["by_reason"]] == [("weekly_call_cap", 2), ("outside_hours", 1)]
    by_reason = {x["reason"]: x for x in refusal_figures(scope(admin_user))["by_reason"]}
    assert by_reason["outside_hours"] == {"reason": "outside_hours", "label": REFUSAL_REASONS["outside_hours"], "refusals": 2}


def test_rebuild_is_idempotent_and_catches_up(portfolio):
    facts_rebuild(now=NOW, full=True)
    tables = (AttemptDaily, MoneyDaily, PortfolioSnapshot, RefusalDaily, RollMonthly, TechniqueDaily)
    first = {m.__name__: sorted(m.objects.values_list(*[f.attname for f in m._meta.concrete_fields if f.name != "id"]), key=str) for m in tables}
    facts_rebuild(now=NOW)  # incremental over the same days: same rows
    again = {m.__name__: sorted(m.objects.values_list(*[f.attname for f in m._meta.concrete_fields if f.name != "id"]), key=str) for m in tables}
    assert first == again
    assert AttemptDaily.objects.filter(day=dt.date(2026, 2, 20)).exists()
    # A run a week later catches up everything written since the last one.
    result = facts_rebuild(now=NOW + dt.timedelta(days=7))
    assert result.first_day <= TODAY and result.last_day == TODAY + dt.timedelta(days=7)


def test_a_case_paused_by_a_debtor_flag_is_not_one_without_a_next_step(built, supervisor):
    """C2 has no next step; once its debtor is represented by an attorney, contact is paused and
    having none is right: neither the figure nor its drill-down count it."""
    from debtors.models import Debtor

    assert portfolio_figures(scope(supervisor))["no_next_step"] == 1
    Debtor.objects.filter(pk=built.c2.debtor_id).update(attorney_represented=True)
    facts_rebuild(now=NOW)
    p = portfolio_figures(scope(supervisor))
    assert (p["no_next_step"], p["overdue"]) == (0, 1)
    assert not drill_cases(scope(supervisor), kind="no_next_step", params={}, now=NOW).exists()
