"""The periodic rebuild is incremental: after changes made through the services it recomputes
only the keys they touched, and the facts are then exactly those a full rebuild gives."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from cases.services import case_set_status, payment_post, promise_record
from collections_crm.reports.models import (
    AttemptDaily,
    DailyRollup,
    MoneyDaily,
    ObjectiveMoveDaily,
    PortfolioSnapshot,
    PromiseDaily,
    RebuildState,
    RefusalDaily,
    RollMonthly,
    TechniqueDaily,
)
from collections_crm.reports.services import cases_reassign, facts_rebuild
from contacts.models import ContactRefusal
from contacts.services import contact_attempt_log

from .conftest import NOW, TODAY, at

FACT_MODELS = (AttemptDaily, DailyRollup, MoneyDaily, ObjectiveMoveDaily, PortfolioSnapshot, PromiseDaily, RefusalDaily, RollMonthly, TechniqueDaily)


def all_facts() -> dict[str, list]:
    return {
        m.__name__: sorted(m.objects.values_list(*[f.attname for f in m._meta.concrete_fields if f.name != "id"]), key=str)
        for m in FACT_MODELS
    }


def change_everything(p, supervisor, now):
    """An interaction, a promise and a payment on older cases (their past interactions' outcomes
    move), a reassignment (money and rolls move between agents), a case closed, a refusal."""
    contact_attempt_log(actor=p.A, case_id=p.c1.pk, channel="phone", outcome="promise", objective="get_commitment",
                        occurred_at=now, techniques=[p.options], now=now)
    promise_record(actor=p.B, case_id=p.c3.pk, amount=Decimal("150.00"), due_date=timezone.localdate(now) + dt.timedelta(days=3), now=now)
    payment_post(actor=p.B, case_id=p.c3.pk, amount=Decimal("150.00"), received_on=timezone.localdate(now), now=now)
    cases_reassign(actor=supervisor, case_ids=[p.c2.pk], agent=p.B, now=now)
    case_set_status(actor=supervisor, case_id=p.c5.pk, status="closed", now=now)
    ContactRefusal.objects.create(case=p.c1, channel="phone", reason="outside_hours", stage="call", at=now)


def test_incremental_run_equals_a_full_rebuild_after_changes(built, supervisor):
    before = all_facts()
    later = NOW + dt.timedelta(hours=2)
    change_everything(built, supervisor, later)

    result = facts_rebuild(now=later)
    assert result.mode == "incremental" and 0 < result.keys < 100
    incremental = all_facts()
    facts_rebuild(now=later, full=True)
    assert all_facts() == incremental
    assert incremental != before
    # The reassigned case's placement (1 Feb) now counts for agent B, and no longer for A.
    assert MoneyDaily.objects.filter(day=dt.date(2026, 2, 1), agent=built.B, placed_cases=1).exists()
    assert not MoneyDaily.objects.filter(day=dt.date(2026, 2, 1), agent=built.A, placed_cases__gt=0).exists()
    # The payment today follows B's interaction on 15 March (within the window): money now.
    assert AttemptDaily.objects.get(day=dt.date(2026, 3, 15), agent=built.B).led_money == 1


def test_catches_up_after_downtime(built, supervisor):
    """Changes made over several days with no run in between are all picked up by the next run,
    across a month end (the roll rates of the month that ended move for everyone)."""
    change_everything(built, supervisor, NOW + dt.timedelta(days=1))
    contact_attempt_log(actor=built.B, case_id=built.c3.pk, channel="phone", outcome="no_answer", objective="remind",
                        occurred_at=at(3, 20), techniques=[built.dialogue], now=at(3, 20))
    much_later = at(4, 2, 12)
    result = facts_rebuild(now=much_later)
    assert result.mode == "incremental" and result.first_day <= TODAY and result.last_day == dt.date(2026, 4, 2)
    incremental = all_facts()
    facts_rebuild(now=much_later, full=True)
    assert all_facts() == incremental
    assert RollMonthly.objects.filter(month=dt.date(2026, 2, 1)).exists()


def test_nothing_changed_means_nothing_recomputed(built, settings):
    # Without the safety overlap (ids re-read in case a transaction committed late).
    settings.REPORTS_REBUILD_ID_OVERLAP = 0
    facts = all_facts()
    result = facts_rebuild(now=NOW + dt.timedelta(minutes=10))
    assert result.mode == "incremental" and result.keys == 0
    # The stock is taken again at every run (what is overdue moves with the clock); the rest stays.
    facts.pop("PortfolioSnapshot")
    again = all_facts()
    again.pop("PortfolioSnapshot")
    assert again == facts


def test_only_one_run_at_a_time(built):
    """A run in progress (its claim is fresh) makes another one return at once; a claim left by
    a crashed run goes stale and the next run takes over."""
    RebuildState.objects.filter(name="dashboard").update(running_since=timezone.now())
    assert facts_rebuild(now=NOW) is None
    RebuildState.objects.filter(name="dashboard").update(running_since=timezone.now() - dt.timedelta(hours=2))
    assert facts_rebuild(now=NOW).mode == "incremental"
    assert RebuildState.objects.get(name="dashboard").running_since is None


def test_first_run_and_full_option_rebuild_everything(portfolio):
    assert facts_rebuild(now=NOW).mode == "full"
    assert facts_rebuild(now=NOW, full=True).mode == "full"
    assert RebuildState.objects.get(name="dashboard").marks["attempt"] > 0


def test_whole_company_figures_from_rollups_equal_the_facts(built, admin_user, monkeypatch):
    """Admins without a team or agent filter read the company-wide rollups; every figure is the
    one summed from the per-agent facts (with and without a creditor filter, every cut)."""
    from collections_crm.reports import rollups
    from collections_crm.reports.selectors import scope_for_user
    from collections_crm.reports.tables import build_tables

    later = NOW + dt.timedelta(hours=1)
    payment_post(actor=admin_user, case_id=built.c3.pk, amount=Decimal("20.00"), received_on=TODAY, now=later)
    facts_rebuild(now=later)
    read = []
    original = rollups.rollup_for
    monkeypatch.setattr(rollups, "rollup_for", lambda *a: read.append(original(*a)) or original(*a))
    for creditor in (None, built.k1.pk):
        for cut in ("technique", "objective", "excuse", "agent"):
            scope = scope_for_user(user=admin_user, today=TODAY, date_from=dt.date(2026, 1, 1), date_to=TODAY, creditor_id=creditor)
            read.clear()
            from_rollups = build_tables(scope, {}, cut=cut)[1]
            assert any(read), "the whole-company slice reads the rollups"
            monkeypatch.setattr(rollups, "rollup_for", lambda *a: None)
            from_facts = build_tables(scope, {}, cut=cut)[1]
            monkeypatch.setattr(rollups, "rollup_for", lambda *a: read.append(original(*a)) or original(*a))
            assert from_rollups == from_facts
    assert from_facts["portfolio"]["collected"] > 0 and from_facts["techniques"]["rows"]
