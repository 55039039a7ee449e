"""Facts about cases, gathered set-based.

Owns ``facts_gather``: the planner's inputs (``planner.CaseFacts``) for any number of cases in a
fixed number of queries (about ten), whatever the size of the batch or of each case's history."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, cast

from django.db.models import Count, Max, Q, Window
from django.db.models.functions import RowNumber

from cases.choices import (
    InstalmentStatus,
    Objective,
    Outcome,
    PlanStatus,
    PromiseStatus,
    StatementKind,
)
from cases.models import Barrier, Case, Instalment, PaymentPlan, PromiseToPay
from debtors.models import DEBTOR_FLAGS, Debtor
from debtors.zones import zones_from_text

from ..lookups import ids_q, span_q
from ..models import (
    ContactAttempt,
    ExcuseCategory,
    FollowUp,
    FollowUpPurpose,
    FollowUpStatus,
)
from . import planner, policy

FINISHED = [FollowUpStatus.DONE, FollowUpStatus.SKIPPED]
# A callback agreed longer ago than this and never done falls back to the cadence.
CALLBACK_HORIZON = dt.timedelta(days=14)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def facts_gather(case_ids: list[int], now: dt.datetime, *, grace_days: int = 1) -> tuple[dict[int, planner.CaseFacts], dict[int, dict]]:
    """CaseFacts per case id, and the raw case rows, in a fixed number of queries (about ten)
    whatever the number of cases: one grouped query per kind of history, served by the indexes
    on the case (measured faster than one query of correlated subqueries for big batches)."""
    # Cases and debtors in two index scans: joined in one query, the planner hashes the whole
    # debtor table for every batch (its cost then grows with the portfolio, not the batch).
    wanted = set(case_ids)
    # (Plain dicts: the rows are extended below with the debtor's fields.)
    rows = cast(Iterable[dict[str, Any]], Case.objects.filter(span_q("pk", wanted)).values(
        "id", "status", "due_date", "created_at", "currency", "objective", "objective_reason", "next_action_at",
        "next_action_note", "debtor_id",
    ))
    cases = {row["id"]: row for row in rows if row["id"] in wanted}
    # Per debtor once: where they live, the flags that pause contact, what the contact policy needs.
    # (Most debtors share a zone, a country and no flag: one entry per such combination.)
    debtors = {}
    kinds: dict[tuple, dict] = {}
    for pk, *kind in Debtor.objects.filter(span_q("pk", {r["debtor_id"] for r in cases.values()})).values_list(
        "id", "timezone", "candidate_timezones", "country", *DEBTOR_FLAGS
    ):
        kind = tuple(kind)
        if (entry := kinds.get(kind)) is None:
            tz, zones, country, *flag_values = kind
            flags = dict(zip(DEBTOR_FLAGS, flag_values, strict=True))
            entry = kinds[kind] = {
                "debtor__timezone": tz, "debtor__country": country,
                "debtor_flags": frozenset(f for f, on in flags.items() if on),
                "debtor_info": policy.DebtorInfo(timezone=tz, zones=zones_from_text(zones), **flags),
            }
        debtors[pk] = entry
    for row in cases.values():
        row.update(debtors[row["debtor_id"]])
    ids = list(cases)
    barrier = dict(
        Barrier.objects.filter(span_q("case_id", ids), status="open").values("case_id").annotate(at=Max("opened_at")).values_list("case_id", "at")
    )
    broken = Q(status__in=[PromiseStatus.BROKEN, PromiseStatus.PARTIAL])
    promise_stats = {
        r["case_id"]: r
        for r in PromiseToPay.objects.filter(span_q("case_id", ids)).values("case_id").annotate(
            n_broken=Count("id", filter=broken), last_broken_at=Max("resolved_at", filter=broken),
            last_broken_due=Max("due_date", filter=broken), last_created=Max("created_at"),
        )
    }
    commitments: dict[int, planner.Commitment] = {}
    for case_id, due, amount, paid in (
        PromiseToPay.objects.filter(span_q("case_id", ids), status=PromiseStatus.PENDING)
        .order_by("due_date", "id").values_list("case_id", "due_date", "amount", "amount_paid")
    ):
        commitments.setdefault(case_id, planner.Commitment("promise", amount - paid, due))
    # Plans first, then their instalments by plan id: joined, the planner scans every instalment.
    plans = [p for p in PaymentPlan.objects.filter(span_q("case_id", ids)).values_list("id", "case_id", "status", "created_at")
             if p[1] in cases]
    plan_case = {p[0]: p[1] for p in plans}
    active_plans = [p[0] for p in plans if p[2] == PlanStatus.ACTIVE]
    defaulted_plans = [p[0] for p in plans if p[2] == PlanStatus.DEFAULTED]
    if active_plans:
        for plan_id, due, amount, paid in (
            Instalment.objects.filter(ids_q("plan_id", active_plans),
                                      status__in=[InstalmentStatus.PENDING, InstalmentStatus.PARTIAL])
            .order_by("due_date", "number").values_list("plan_id", "due_date", "amount", "amount_paid")
        ):
            case_id = plan_case[plan_id]
            current = commitments.get(case_id)
            if current is None or due < current.due_date:
                commitments[case_id] = planner.Commitment("instalment", amount - paid, due)
    plan_stats: dict[int, dict] = {}
    for _plan_id, case_id, status, created in plans:
        st = plan_stats.setdefault(case_id, {"n_defaulted": 0, "last_created": created, "last_missed": None})
        st["n_defaulted"] += status == PlanStatus.DEFAULTED
        st["last_created"] = max(st["last_created"], created)
    if defaulted_plans:
        for plan_id, missed in (
            Instalment.objects.filter(ids_q("plan_id", defaulted_plans), status=InstalmentStatus.MISSED)
            .values("plan_id").annotate(at=Max("due_date")).values_list("plan_id", "at")
        ):
            st = plan_stats[plan_case[plan_id]]
            st["last_missed"] = max(filter(None, (st["last_missed"], missed)))
    # The excuse categories that mean "pressure" (a small admin table), so that the attempts are
    # aggregated without a join.
    pressure_excuses = list(ExcuseCategory.objects.filter(suggested_objective=Objective.PRESSURE).values_list("pk", flat=True))
    refusal = Q(outcome=Outcome.REFUSAL) | Q(excuse_category_id__in=pressure_excuses or [0])
    excuse = Q(outcome=Outcome.EXCUSE) | Q(statement_kind=StatementKind.EXCUSE) | Q(excuse_category_id__isnull=False)
    attempt_stats = {
        r["case_id"]: r
        for r in ContactAttempt.objects.filter(span_q("case_id", ids)).values("case_id").annotate(
            last_refusal=Max("occurred_at", filter=refusal), last_excuse=Max("occurred_at", filter=excuse),
            last_agent=Max("occurred_at", filter=Q(agent__isnull=False)),
        )
    }
    callbacks: dict[int, tuple[dt.datetime, dt.datetime | None, str]] = {}
    for case_id, occurred, next_at, note in ContactAttempt.objects.filter(
        span_q("case_id", ids), agent__isnull=False, next_step_at__gte=now - CALLBACK_HORIZON
    ).values_list("case_id", "occurred_at", "next_step_at", "next_step"):
        if occurred == (attempt_stats.get(case_id) or {}).get("last_agent"):
            callbacks[case_id] = (occurred, next_at, note)
    last_done: dict[int, planner.DoneStep] = {}
    for r in (
        FollowUp.objects.filter(span_q("case_id", ids), purpose=FollowUpPurpose.CADENCE, status__in=FINISHED)
        .annotate(rn=Window(RowNumber(), partition_by="case_id", order_by=["-completed_at", "-id"]))
        .filter(rn=1).values("case_id", "objective", "anchor_at", "step", "completed_at")
    ):
        last_done[r["case_id"]] = planner.DoneStep(r["objective"], r["anchor_at"], r["step"], r["completed_at"])
    consequence = dict(
        FollowUp.objects.filter(span_q("case_id", ids), is_consequence=True, status=FollowUpStatus.DONE)
        .values("case_id").annotate(at=Max("completed_at")).values_list("case_id", "at")
    )
    reminded: dict[int, set[dt.datetime]] = defaultdict(set)
    for case_id, anchor in FollowUp.objects.filter(
        span_q("case_id", ids), purpose=FollowUpPurpose.PROMISE_REMINDER, status__in=FINISHED, anchor_at__gte=now - dt.timedelta(days=60)
    ).values_list("case_id", "anchor_at"):
        reminded[case_id].add(anchor)

    facts: dict[int, planner.CaseFacts] = {}
    for case_id, row in cases.items():
        p = promise_stats.get(case_id, {})
        pl = plan_stats.get(case_id, {})
        a = attempt_stats.get(case_id, {})
        broken_at = p.get("last_broken_at")
        broken_due = p.get("last_broken_due")
        if pl.get("last_missed"):
            default_at = _midnight(pl["last_missed"] + dt.timedelta(days=grace_days + 1))
            if broken_at is None or default_at > broken_at:
                broken_at, broken_due = default_at, pl["last_missed"]
        commitment_times = [t for t in (p.get("last_created"), pl.get("last_created")) if t]
        callback = callbacks.get(case_id)
        facts[case_id] = planner.CaseFacts(
            case_id=case_id, status=row["status"], due_date=row["due_date"], created_at=row["created_at"],
            timezone=row["debtor__timezone"], currency=row["currency"],
            debtor_flags=row["debtor_flags"],
            open_barrier_at=barrier.get(case_id), commitment=commitments.get(case_id),
            broken_count=(p.get("n_broken") or 0) + (pl.get("n_defaulted") or 0),
            last_broken_at=broken_at, last_broken_due=broken_due,
            last_commitment_at=max(commitment_times) if commitment_times else None,
            consequence_at=consequence.get(case_id), last_refusal_at=a.get("last_refusal"),
            last_excuse_at=a.get("last_excuse"),
            callback_at=callback[1] if callback else None, callback_note=callback[2] if callback else "",
            last_done=last_done.get(case_id), reminded_anchors=frozenset(reminded.get(case_id, ())),
        )
    return facts, cases
