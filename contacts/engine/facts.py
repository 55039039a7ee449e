"""Facts about cases, gathered set-based.

Owns ``facts_gather``: the planner's inputs (``planner.CaseFacts``) for any number of cases in a
fixed number of queries (about ten), whatever the size of the batch or of each case's history."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, cast

from django.db.models import Count, Max, Q, TextField, Window
from django.db.models.functions import Cast, RowNumber

from cases.choices import (
    Channel,
    InstalmentStatus,
    Objective,
    Outcome,
    PlanStatus,
    PromiseStatus,
    StatementKind,
)
from cases.models import Barrier, Case, Instalment, Payment, PaymentPlan, PromiseToPay
from debtors.models import CONTACT_TIME_WINDOWS, DEBTOR_FLAGS, Debtor
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
# Interactions a person had with the debtor: an agent's, or the debtor's own in the portal (a
# call-back asked for there is agreed like one agreed on the phone).
BY_PERSON = Q(agent__isnull=False) | Q(channel=Channel.PORTAL)
# A callback agreed longer ago than this and never done falls back to the cadence.
CALLBACK_HORIZON = dt.timedelta(days=14)


@functools.lru_cache(maxsize=8192)
def _decoded(text: str | None) -> dict:
    # (Shared between rows: the caller only compares them and writes them out, never changes them.)
    return json.loads(text) if text else {}


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def facts_gather(case_ids: list[int], now: dt.datetime, *, grace_days: int = 1,
                 excuse_windows: Iterable[int] = (planner.DEFAULT_EXCUSE_WINDOW,)) -> tuple[dict[int, planner.CaseFacts], dict[int, dict]]:
    """CaseFacts per case id, and the raw case rows, in a fixed number of queries (about ten)
    whatever the number of cases: one grouped query per kind of history, served by the indexes
    on the case (measured faster than one query of correlated subqueries for big batches).
    ``excuse_windows``: the D of the rules that count excuses "within the last D days"."""
    # Cases and debtors in two index scans: joined in one query, the planner hashes the whole
    # debtor table for every batch (its cost then grows with the portfolio, not the batch).
    wanted = set(case_ids)
    # (Plain dicts: the rows are extended below with the debtor's fields.)
    # The stored why and next step as their JSON text, decoded once per distinct text: a portfolio
    # shares a few thousand of them, and decoding each row's costs more than the rest of the row.
    rows = cast(Iterable[dict[str, Any]], Case.objects.filter(span_q("pk", wanted)).values(
        "id", "status", "due_date", "created_at", "currency", "balance", "creditor_id", "objective", "next_action_at",
        "last_contact_at", "last_outcome", "paused_at", "debtor_id",
        reason_json=Cast("objective_reason", TextField()), note_json=Cast("next_action_note", TextField()),
    ))
    cases = {}
    for row in rows:
        if row["id"] in wanted:
            row["objective_reason"] = _decoded(row.pop("reason_json"))
            row["next_action_note"] = _decoded(row.pop("note_json"))
            cases[row["id"]] = row
    # Per debtor once: where they live, the flags that pause contact, what the contact policy needs.
    # (Most debtors share a zone, a country and no flag: one entry per such combination.)
    debtors = {}
    kinds: dict[tuple, dict] = {}
    for pk, *kind in Debtor.objects.filter(span_q("pk", {r["debtor_id"] for r in cases.values()})).values_list(
        "id", "timezone", "candidate_timezones", "country", "kind", "preferred_contact_time", *DEBTOR_FLAGS
    ):
        kind = tuple(kind)
        if (entry := kinds.get(kind)) is None:
            tz, zones, country, debtor_kind, preferred, *flag_values = kind
            flags = dict(zip(DEBTOR_FLAGS, flag_values, strict=True))
            entry = kinds[kind] = {
                "debtor__timezone": tz, "debtor__country": country, "debtor__kind": debtor_kind,
                "debtor_flags": frozenset(f for f, on in flags.items() if on),
                "debtor_info": policy.DebtorInfo(timezone=tz, zones=zones_from_text(zones), **flags,
                                                 call_window=CONTACT_TIME_WINDOWS.get(preferred)),
            }
        debtors[pk] = entry
    for row in cases.values():
        row.update(debtors[row["debtor_id"]])
    ids = list(cases)
    barrier: dict[int, tuple[dt.datetime, str]] = {}
    for case_id, at, barrier_kind in Barrier.objects.filter(span_q("case_id", ids), status="open").values_list("case_id", "opened_at", "kind"):
        if case_id not in barrier or at > barrier[case_id][0]:
            barrier[case_id] = (at, barrier_kind)
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
    # The excuse categories (a small admin table), so that the attempts are aggregated without a join.
    categories = {pk: (code, objective, is_barrier) for pk, code, objective, is_barrier in
                  ExcuseCategory.objects.values_list("pk", "code", "suggested_objective", "is_barrier")}
    pressure_excuses = [pk for pk, (_c, objective, _b) in categories.items() if objective == Objective.PRESSURE] or [0]
    barrier_excuses = [pk for pk, (_c, _o, is_barrier) in categories.items() if is_barrier] or [0]
    refusal = Q(outcome=Outcome.REFUSAL) | Q(excuse_category_id__in=pressure_excuses)
    # Seed 004: an argument (a real inability to pay) is not an excuse. Something missing on our
    # side (a barrier category) is neither: it is handled as the barrier, then as an excuse answered.
    stated = Q(statement_kind__in=[StatementKind.ARGUMENT, StatementKind.EXCUSE]) | Q(outcome=Outcome.EXCUSE) | Q(excuse_category_id__isnull=False)
    excuse = (stated & ~Q(statement_kind=StatementKind.ARGUMENT)) | Q(excuse_category_id__in=barrier_excuses)
    # The excuses that count as stalling: not the ones that say something is missing on our side.
    stalling = excuse & ~Q(excuse_category_id__in=barrier_excuses)
    windows = sorted(set(excuse_windows))
    window_keys = [(d, f"excuses_{d}") for d in windows]
    attempt_stats = {
        r["case_id"]: r
        for r in ContactAttempt.objects.filter(span_q("case_id", ids)).values("case_id").annotate(
            last_refusal=Max("occurred_at", filter=refusal), last_excuse=Max("occurred_at", filter=excuse),
            last_agent=Max("occurred_at", filter=BY_PERSON),
            acknowledged=Max("occurred_at", filter=Q(outcome=Outcome.ACKNOWLEDGED)),
            **{f"excuses_{d}": Count("id", filter=stalling & Q(occurred_at__gt=now - dt.timedelta(days=d))) for d in windows},
        )
    }
    statements: dict[int, planner.Statement] = {}
    for r in (
        ContactAttempt.objects.filter(span_q("case_id", ids)).filter(stated)
        .annotate(rn=Window(RowNumber(), partition_by="case_id", order_by=["-occurred_at", "-id"]))
        .filter(rn=1).values("case_id", "occurred_at", "statement_kind", "excuse_category_id")
    ):
        code, usual, is_barrier = categories.get(r["excuse_category_id"], ("", "", False))
        kind = "argument" if r["statement_kind"] == StatementKind.ARGUMENT and not is_barrier else "excuse"
        statements[r["case_id"]] = planner.Statement(r["occurred_at"], kind, code, is_barrier, usual)
    payments: dict[int, tuple[dt.datetime, Decimal]] = {}
    for case_id, created, amount in Payment.objects.filter(span_q("case_id", ids)).values_list("case_id", "created_at", "amount"):
        if case_id not in payments or created > payments[case_id][0]:
            payments[case_id] = (created, amount)
    callbacks: dict[int, tuple[dt.datetime, dt.datetime | None, str]] = {}
    for case_id, occurred, next_at, note in ContactAttempt.objects.filter(
        BY_PERSON, span_q("case_id", ids), next_step_at__gte=now - CALLBACK_HORIZON
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
        open_barrier = barrier.get(case_id)
        payment = payments.get(case_id)
        facts[case_id] = planner.CaseFacts(
            case_id=case_id, status=row["status"], due_date=row["due_date"], created_at=row["created_at"],
            timezone=row["debtor__timezone"], currency=row["currency"], balance=row["balance"], creditor_id=row["creditor_id"],
            debtor_kind=row["debtor__kind"], debtor_flags=row["debtor_flags"],
            open_barrier_at=open_barrier[0] if open_barrier else None, open_barrier_kind=open_barrier[1] if open_barrier else "",
            commitment=commitments.get(case_id),
            broken_count=(p.get("n_broken") or 0) + (pl.get("n_defaulted") or 0),
            last_broken_at=broken_at, last_broken_due=broken_due,
            last_commitment_at=max(commitment_times) if commitment_times else None,
            consequence_at=consequence.get(case_id), last_refusal_at=a.get("last_refusal"),
            last_excuse_at=a.get("last_excuse"), excuse_counts={d: a.get(key) or 0 for d, key in window_keys},
            last_statement=statements.get(case_id), acknowledged_at=a.get("acknowledged"),
            last_payment_at=payment[0] if payment else None, last_payment_amount=payment[1] if payment else None,
            last_contact_at=row["last_contact_at"], last_outcome=row["last_outcome"],
            callback_at=callback[1] if callback else None, callback_note=callback[2] if callback else "",
            last_done=last_done.get(case_id), reminded_anchors=frozenset(reminded.get(case_id, ())),
        )
    return facts, cases
