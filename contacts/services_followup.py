"""The follow-up engine's write path: plan cases (set-based), claim and execute due steps,
monitor promises. The decisions are made by the pure contacts.planner and contacts.policy;
this module gathers their inputs in a constant number of queries per batch of cases and writes
the result in one transaction per batch.

``followups_plan(case_ids=[...])`` is the ONE planning path: cases.services.case_replan calls it
with one id inside every case service's transaction, the portfolio replan calls it with batches
of thousands.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Max, Q, Window
from django.db.models.functions import RowNumber
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cases.choices import (
    CaseStatus,
    Channel,
    InstalmentStatus,
    Objective,
    Outcome,
    PlanStatus,
    PromiseStatus,
    StatementKind,
)
from cases.models import Barrier, Case, Instalment, PaymentPlan, PromiseToPay
from collections_crm.audit.models import AuditLog
from collections_crm.audit.services import audit_record
from collections_crm.core import bulk, parallel
from debtors.models import DEBTOR_FLAGS, Debtor, contact_paused_q

from . import planner, policy
from .lookups import ids_q, span_q
from .models import (
    Cadence,
    CadenceStep,
    ContactAttempt,
    ContactRefusal,
    ExcuseCategory,
    FollowUp,
    FollowUpPurpose,
    FollowUpSettings,
    FollowUpStatus,
    JurisdictionPack,
    RefusalStage,
    StepKind,
    StrategyRule,
)
from .services_policy import PackIndex, contact_histories

log = logging.getLogger(__name__)

LIVE = [FollowUpStatus.PENDING, FollowUpStatus.RUNNING]
FINISHED = [FollowUpStatus.DONE, FollowUpStatus.SKIPPED]
# A callback agreed longer ago than this and never done falls back to the cadence.
CALLBACK_HORIZON = dt.timedelta(days=14)


def claim_lease() -> dt.timedelta:
    """How long a claimed row belongs to its worker before the sweeper hands it out again. It must
    exceed the task hard time limit so that a slow task is not run twice at once."""
    return dt.timedelta(seconds=settings.CRM_CLAIM_LEASE_SECONDS)


# --- Strategy (admin data) as plain data ---------------------------------------------------------


def strategy_load() -> planner.Strategy:
    rules = tuple(
        planner.Rule(r.pk, r.position, r.condition, r.objective, r.threshold, r.name)
        for r in StrategyRule.objects.filter(active=True).order_by("position", "id")
    )
    cadences = {}
    for cadence in Cadence.objects.prefetch_related("steps"):
        steps = tuple(
            planner.Step(s.pk, s.position, s.delay_days, s.channel, s.kind, s.send_time, s.template_id, s.instructions,
                         s.is_consequence)
            for s in sorted(cadence.steps.all(), key=lambda s: s.position)
        )
        cadences[cadence.objective] = planner.CadenceInfo(cadence.objective, steps, cadence.repeat_every_days)
    conf = FollowUpSettings.objects.filter(pk=1).first() or FollowUpSettings()
    return planner.Strategy(
        rules=rules, cadences=cadences, reminder_days_before=conf.reminder_days_before,
        reminder_channel=conf.reminder_channel, reminder_template_id=conf.reminder_template_id,
        grace_days=conf.promise_grace_days,
    )


# Rules, cadences and packs change rarely (an admin edits them) but are read on every replan:
# each process keeps them for a short time. Editors call strategy_invalidate() after a change;
# other processes see it within STRATEGY_TTL seconds.
STRATEGY_TTL = 30.0
_cache: dict[str, tuple[float, object]] = {}


def _cached(key: str, load):
    hit = _cache.get(key)
    if hit is None or time.monotonic() - hit[0] > STRATEGY_TTL:
        hit = (time.monotonic(), load())
        _cache[key] = hit
    return hit[1]


def strategy_cached() -> planner.Strategy:
    return _cached("strategy", strategy_load)


def packs_cached() -> PackIndex:
    return _cached("packs", PackIndex)


def strategy_invalidate() -> None:
    _cache.clear()


def _config_current(strategy: planner.Strategy, packs: PackIndex, actor_id: int | None = None, *, lock: bool = False) -> bool:
    """Do the rules, cadence steps and packs this (cached) strategy names (and the actor) all
    still exist? Follow-ups and refusals point to them: a strategy cached before an admin deleted
    one would write a dangling id, and the foreign-key check at commit would undo the agent's
    whole action (an interaction logged, a payment) for up to STRATEGY_TTL. With ``lock``
    (PostgreSQL) they are also locked FOR KEY SHARE until the commit, as each row's foreign-key
    check would do: none can be deleted before then, so a batch may skip those per-row checks."""
    wanted = [(StrategyRule, {r.id for r in strategy.rules if r.id}),
              (CadenceStep, {s.id for c in strategy.cadences.values() for s in c.steps if s.id}),
              (JurisdictionPack, packs.pack_ids())]
    if actor_id is not None:
        wanted.append((get_user_model(), {actor_id}))
    if connection.vendor == "postgresql":
        counts = ", ".join(
            f"(SELECT count(*) FROM (SELECT 1 FROM {m._meta.db_table} WHERE id = ANY(%s){' FOR KEY SHARE' if lock else ''}) AS t)"
            for m, _ids in wanted
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {counts}", [list(ids) for _m, ids in wanted])
            found = cursor.fetchone()
    else:
        found = [m.objects.filter(pk__in=ids).count() for m, ids in wanted]
    return all(n == len(ids) for n, (_m, ids) in zip(found, wanted, strict=True))


# --- Facts, set-based ----------------------------------------------------------------------------


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)


def facts_gather(case_ids: list[int], now: dt.datetime, *, grace_days: int = 1) -> tuple[dict[int, planner.CaseFacts], dict[int, dict]]:
    """CaseFacts per case id, and the raw case rows, in a fixed number of queries (about ten)
    whatever the number of cases: one grouped query per kind of history, served by the indexes
    on the case (measured faster than one query of correlated subqueries for big batches)."""
    # Cases and debtors in two index scans: joined in one query, the planner hashes the whole
    # debtor table for every batch (its cost then grows with the portfolio, not the batch).
    wanted = set(case_ids)
    cases = {
        row["id"]: row
        for row in Case.objects.filter(span_q("pk", wanted)).values(
            "id", "status", "due_date", "created_at", "currency", "objective", "objective_reason", "next_action_at",
            "next_action_note", "debtor_id",
        )
        if row["id"] in wanted
    }
    # Per debtor once: where they live, the flags that pause contact, what the contact policy needs.
    # (Most debtors share a zone, a country and no flag: one entry per such combination.)
    debtors = {}
    kinds: dict[tuple, dict] = {}
    for pk, *kind in Debtor.objects.filter(span_q("pk", {r["debtor_id"] for r in cases.values()})).values_list(
        "id", "timezone", "country", *DEBTOR_FLAGS
    ):
        kind = tuple(kind)
        if (entry := kinds.get(kind)) is None:
            tz, country, *flag_values = kind
            flags = dict(zip(DEBTOR_FLAGS, flag_values, strict=True))
            entry = kinds[kind] = {
                "debtor__timezone": tz, "debtor__country": country,
                "debtor_flags": frozenset(f for f, on in flags.items() if on),
                "debtor_info": policy.DebtorInfo(timezone=tz, **flags),
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
    callbacks: dict[int, tuple[dt.datetime, dt.datetime, str]] = {}
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

    facts = {}
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


# --- Planning ------------------------------------------------------------------------------------


@dataclass
class PlanStats:
    cases: int = 0
    created: int = 0
    kept: int = 0
    cancelled: int = 0
    completed: int = 0
    objective_changed: int = 0
    moved_by_policy: int = 0
    busy: int = 0  # held by another transaction (an agent's action, which replans them itself)


def _complete_worked_tasks(case_ids: list[int], now: dt.datetime) -> int:
    """Agent tasks the agent has already worked on (an interaction logged after the task was
    created) are done; the plan then moves to the next step."""
    wanted = set(case_ids)
    tasks = [t for t in FollowUp.objects.filter(span_q("case_id", wanted), status=FollowUpStatus.PENDING, kind=StepKind.AGENT_TASK)
             .values_list("id", "case_id", "created_at") if t[1] in wanted]
    if not tasks:
        return 0
    latest = {}
    for attempt_id, case_id, at, agent_id in (
        ContactAttempt.objects.filter(ids_q("case_id", {t[1] for t in tasks}), agent__isnull=False,
                                      occurred_at__gt=min(t[2] for t in tasks))
        .order_by("occurred_at", "id").values_list("id", "case_id", "occurred_at", "agent_id")
    ):
        latest[case_id] = (attempt_id, at, agent_id)
    done = 0
    for task_id, case_id, created in tasks:
        attempt = latest.get(case_id)
        if attempt and attempt[1] > created:
            done += FollowUp.objects.filter(pk=task_id, status=FollowUpStatus.PENDING).update(
                status=FollowUpStatus.DONE, completed_at=attempt[1], completed_by_id=attempt[2],
                completed_attempt_id=attempt[0], result=_("Worked by the agent"),
            )
    return done


def _apply_policy(step: planner.PlannedStep, row: dict, rules: policy.PackRules, history: policy.ContactHistory) -> tuple[dt.datetime, str]:
    """Scheduling-time check: move the step to the first moment the contact policy allows."""
    decision = policy.can_contact(
        debtor=row["debtor_info"], case_status=row["status"],
        channel=step.channel, at=step.due_at, pack=rules, history=history,
    )
    if decision.allowed or decision.next_allowed_at is None:
        # Blocking reasons are re-checked (and recorded) at send time or when the call starts.
        return step.due_at, "" if decision.allowed else decision.reason
    return decision.next_allowed_at, decision.reason


def followups_plan(
    *, case_ids: list[int], now: dt.datetime, actor=None, strategy: planner.Strategy | None = None,
    packs: PackIndex | None = None,
) -> tuple[PlanStats, dict[int, planner.Plan]]:
    """Plan the given cases and write the result: cancel follow-ups that no longer match, create
    the new next step (moved by the contact policy), update the case's objective and next action,
    audit objective changes. Runs in one transaction; a constant number of queries per call."""
    stats = PlanStats()
    if not case_ids:
        return stats, {}
    strategy = strategy or strategy_cached()
    packs = packs or packs_cached()
    with transaction.atomic():
        batch = len(case_ids) > 1
        if batch:
            # The cases stay locked while they are planned: an agent's action on one of them waits
            # and then replans on fresh facts, instead of this plan, made from facts read before
            # the action, overwriting the action's plan (or clashing with its new follow-up and
            # failing the whole batch). A case another transaction holds is left to it: that is
            # an agent's action or the engine, which replans it when done. (A single case is
            # locked by the caller, as every event that replans one does.)
            locked = list(Case.objects.filter(ids_q("pk", case_ids)).select_for_update(skip_locked=True, no_key=True)
                          .order_by("pk").values_list("pk", flat=True))
            stats.busy = len(set(case_ids)) - len(locked)
            case_ids = locked
            if not case_ids:
                return stats, {}
        actor_id = getattr(actor, "pk", None)
        config_current = _config_current(strategy, packs, actor_id, lock=batch)
        if not config_current:
            strategy_invalidate()
            strategy, packs = strategy_cached(), packs_cached()
            config_current = _config_current(strategy, packs, actor_id, lock=batch)
        stats.completed = _complete_worked_tasks(case_ids, now)
        facts, rows = facts_gather(case_ids, now, grace_days=strategy.grace_days)
        language = get_language()
        plans = {case_id: planner.plan_case(f, strategy, now, language=language) for case_id, f in facts.items()}
        live: dict[int, list[dict]] = defaultdict(list)
        for fu in FollowUp.objects.filter(span_q("case_id", rows), status__in=LIVE).values(
            "id", "case_id", "purpose", "objective", "step", "anchor_at", "channel", "kind", "due_at", "status"
        ):
            live[fu["case_id"]].append(fu)
        need_history = [(cid, rows[cid]["debtor_id"]) for cid, p in plans.items()
                        if p.step and not any(_same(fu, p.step) for fu in live[cid])]
        calls = [cid for cid, _debtor in need_history if plans[cid].step.channel == Channel.PHONE]
        histories = contact_histories(cases=need_history, now=now, calls_for=calls) if need_history else {}

        cancel_ids: list[int] = []
        new_rows: list[tuple] = []
        moved_rows: list[tuple] = []
        updates: list[tuple] = []
        moved: list[tuple] = []
        for case_id, plan in plans.items():
            row = rows[case_id]
            stats.cases += 1
            keep = None
            for fu in live[case_id]:
                if plan.step and keep is None and _same(fu, plan.step):
                    keep = fu
                else:
                    cancel_ids.append(fu["id"])
            next_at, note = plan.next_action_at, plan.next_action_note
            if keep is not None:
                stats.kept += 1
                next_at = keep["due_at"]
            elif plan.step is not None:
                pack, rules = packs.for_country(row["debtor__country"])
                due, moved_reason = _apply_policy(plan.step, row, rules, histories[case_id])
                s = plan.step
                is_moved = moved_reason and due != s.due_at
                (moved_rows if is_moved else new_rows).append((
                    case_id, s.objective, s.purpose, s.step, s.channel, s.kind, due, s.anchor_at, plan.rule_id,
                    s.cadence_step_id, s.reason[:300], s.instructions[:200], s.is_consequence,
                    moved_reason if is_moved else "",
                ))
                if is_moved:
                    # Moved, never dropped, and recorded like a refusal at send time.
                    moved.append((case_id, s.channel, moved_reason, due, getattr(pack, "pk", None)))
                next_at = due
            objective = plan.objective or row["objective"]
            reason = plan.reason[:300]
            if plan.state == "closed":
                next_at, note = None, ""
            if (objective, reason, next_at, note) != (row["objective"], row["objective_reason"], row["next_action_at"], row["next_action_note"]):
                updates.append((case_id, objective, reason, next_at, note, plan.rule_id))
            if objective != row["objective"]:
                stats.objective_changed += 1
        if cancel_ids:
            stats.cancelled = FollowUp.objects.filter(ids_q("pk", cancel_ids), status__in=LIVE).update(
                status=FollowUpStatus.CANCELLED, completed_at=now, result=_("Replanned")
            )
        # Every row written below points to a case locked above, a rule, step, pack or actor
        # locked by _config_current, or a follow-up written here: a batch skips the per-row checks.
        with bulk.foreign_key_checks_skipped() if config_current and batch else nullcontext():
            _insert(FollowUp, NEW_FOLLOWUP_FIELDS, new_rows, status=FollowUpStatus.PENDING, result="", created_at=now)
            # The moved ones apart: only their refusals need the new ids.
            moved_ids = _insert(FollowUp, NEW_FOLLOWUP_FIELDS, moved_rows, want_ids=True, status=FollowUpStatus.PENDING, result="",
                                created_at=now)
            stats.created = len(new_rows) + len(moved_rows)
            stats.moved_by_policy = len(moved)
            _insert(ContactRefusal, REFUSAL_FIELDS, [
                (case_id, channel, reason, RefusalStage.SCHEDULE, now, due, pack_id, followup_id, actor_id)
                for (case_id, channel, reason, due, pack_id), followup_id in zip(moved, moved_ids, strict=True)
            ])
            _cases_update(updates, rows, now=now, actor_id=actor_id)
    return stats, plans


NEW_FOLLOWUP_FIELDS = (
    "case_id", "objective", "purpose", "step", "channel", "kind", "due_at", "anchor_at", "rule_id", "cadence_step_id",
    "reason", "instructions", "is_consequence", "policy_reason",
)
AUDIT_FIELDS = ("at", "actor_id", "action", "object_type", "object_id", "case_id", "before", "after")


REFUSAL_FIELDS = ("case_id", "channel", "reason", "stage", "at", "next_allowed_at", "pack_id", "followup_id", "user_id")


def _insert(model, fields: tuple[str, ...], rows: list[tuple], *, want_ids: bool = False, **constants) -> list[int]:
    """Insert engine-built rows (plain values, no JSON): COPY on PostgreSQL for big batches,
    bulk_create otherwise.
    With ``want_ids`` it returns their ids (for COPY taken from the table's sequence first, a
    round trip that costs about as much as the COPY itself, so only when asked)."""
    if not rows:
        return []
    if bulk.use_copy(len(rows)):
        table = model._meta.db_table
        model_fields = [model._meta.get_field(f) for f in fields]
        null_columns = [f.column for f in model_fields if f.null and f.get_internal_type() not in ("CharField", "TextField")]
        # (A constant moment is written as text once, not once per row.)
        extra = tuple(v.isoformat() if isinstance(v, dt.datetime) else v for v in constants.values())
        columns = [*(f.column for f in model_fields), *constants]
        if not want_ids:
            bulk.copy_rows(table, columns, ((*row, *extra) for row in rows), null_columns=null_columns)
            return []
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [len(rows)])
            ids = [r[0] for r in cursor.fetchall()]
        bulk.copy_rows(table, ["id", *columns], ((pk, *row, *extra) for pk, row in zip(ids, rows, strict=True)),
                       null_columns=null_columns)
        return ids
    objs = model.objects.bulk_create([model(**dict(zip(fields, row, strict=True)), **constants) for row in rows], batch_size=2000)
    return [o.pk for o in objs]


def _same(fu: dict, step: planner.PlannedStep) -> bool:
    return (fu["purpose"], fu["objective"], fu["step"], fu["anchor_at"], fu["channel"], fu["kind"]) == step.key


def _cases_update(updates: list[tuple], old: dict[int, dict], *, now: dt.datetime, actor_id: int | None) -> None:
    """Write objective, reason and next action of many cases (``updates``: (id, objective,
    reason, next action at, note, rule id); ``old``: their rows as read under lock) and audit
    each change of objective (before/after), in a few statements whatever their number. The
    planner's fields are derived data: the case version is not bumped, so an agent's open form
    is not invalidated by the engine."""
    table = Case._meta.db_table
    if bulk.use_copy(len(updates)):
        # COPY into a session temp table (emptied first: a caller may plan twice in one
        # transaction), with the old objective (and reason, where the objective changes); the
        # audit rows are built from it alone (the database makes the JSON), then one UPDATE … FROM.
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS plan_case_update (id bigint PRIMARY KEY, objective varchar(20), "
                "reason text, next_at timestamptz, note text, rule_id bigint, old_objective varchar(20), old_reason text)"
            )
            cursor.execute("TRUNCATE plan_case_update")
        rows = []
        for u in updates:
            was = old[u[0]]
            rows.append((*u, was["objective"], was["objective_reason"] if was["objective"] != u[1] else ""))
        bulk.copy_rows("plan_case_update", ["id", "objective", "reason", "next_at", "note", "rule_id", "old_objective", "old_reason"],
                       rows, null_columns=["next_at", "rule_id"])
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {AuditLog._meta.db_table} ({', '.join(AUDIT_FIELDS)}) "
                f"SELECT %s, %s, 'case.objective_changed', 'cases.case', id::text, id, "
                f"jsonb_build_object('objective', old_objective, 'objective_reason', old_reason), "
                f"jsonb_build_object('objective', objective, 'objective_reason', reason, 'rule_id', rule_id) "
                f"FROM plan_case_update WHERE old_objective <> objective",
                [now, actor_id],
            )
            cursor.execute(
                f"UPDATE {table} AS c SET objective = v.objective, objective_reason = v.reason, "
                f"next_action_at = v.next_at, next_action_note = v.note FROM plan_case_update AS v WHERE c.id = v.id"
            )
        return
    _insert(AuditLog, AUDIT_FIELDS, [
        (now, actor_id, "case.objective_changed", "cases.case", str(case_id), case_id,
         {"objective": old[case_id]["objective"], "objective_reason": old[case_id]["objective_reason"]},
         {"objective": objective, "objective_reason": reason, "rule_id": rule_id})
        for case_id, objective, reason, _next_at, _note, rule_id in updates if objective != old[case_id]["objective"]
    ])
    for start in range(0, len(updates), 2000):
        chunk = [u[:5] for u in updates[start:start + 2000]]
        if connection.vendor == "postgresql":
            values = ", ".join(["(%s, %s, %s, %s::timestamptz, %s)"] * len(chunk))
            sql = (
                f"UPDATE {table} AS c SET objective = v.objective, objective_reason = v.reason, "
                f"next_action_at = v.next_at, next_action_note = v.note "
                f"FROM (VALUES {values}) AS v(id, objective, reason, next_at, note) WHERE c.id = v.id"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, [x for row in chunk for x in row])
        else:
            objs = [Case(pk=i, objective=o, objective_reason=r, next_action_at=n, next_action_note=t) for i, o, r, n, t in chunk]
            Case.objects.bulk_update(objs, ["objective", "objective_reason", "next_action_at", "next_action_note"])


def case_replan_now(*, case: Case, actor, now: dt.datetime) -> planner.Plan | None:
    """Body of cases.services.case_replan: plan one case inside the caller's transaction and keep
    the caller's in-memory case in step with the database."""
    _stats, plans = followups_plan(case_ids=[case.pk], now=now, actor=actor)
    row = Case.objects.filter(pk=case.pk).values("objective", "objective_reason", "next_action_at", "next_action_note").first()
    if row:
        for name, value in row.items():
            setattr(case, name, value)
    return plans.get(case.pk)


def _add(total: PlanStats, stats: PlanStats) -> None:
    for name in vars(total):
        setattr(total, name, getattr(total, name) + getattr(stats, name))


def followups_plan_portfolio(
    *, now: dt.datetime, actor=None, creditor_id: int | None = None, batch: int = 5000, workers: int = 1,
) -> PlanStats:
    """Replan every open case (of one creditor), batch by batch in id order.

    ``workers`` > 1 (PostgreSQL, outside a transaction) plans the batches in that many forked
    processes, each with its own connection: the batches touch disjoint cases, and a process
    spends about half its time waiting for the database, so two processes keep two cores busy."""
    total = PlanStats()
    qs = Case.objects.filter(status__in=CaseStatus.open_values())
    if creditor_id:
        qs = qs.filter(creditor_id=creditor_id)
    if parallel.can_fork(workers):
        ids = list(qs.order_by("pk").values_list("pk", flat=True))
        jobs = [(ids[i:i + batch], now, getattr(actor, "pk", None)) for i in range(0, len(ids), batch)]
        for stats in parallel.map_in_processes(_plan_batch, jobs, workers=workers):
            _add(total, stats)
        return total
    strategy, packs = strategy_load(), PackIndex()
    last_id = 0
    while True:
        ids = list(qs.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        with bulk.relaxed_transaction():
            stats, _plans = followups_plan(case_ids=ids, now=now, actor=actor, strategy=strategy, packs=packs)
        _add(total, stats)
        last_id = ids[-1]
    return total


def _plan_batch(job: tuple[list[int], dt.datetime, int | None]) -> PlanStats:
    """One batch in a worker process (strategy and packs loaded once per process)."""
    from collections_crm.accounts.models import User

    case_ids, now, actor_id = job

    global _worker_inputs
    if _worker_inputs is None:
        _worker_inputs = (strategy_load(), PackIndex())
    actor = User(pk=actor_id) if actor_id else None
    with bulk.relaxed_transaction():
        stats, _plans = followups_plan(case_ids=case_ids, now=now, actor=actor, strategy=_worker_inputs[0], packs=_worker_inputs[1])
    return stats


_worker_inputs: tuple[planner.Strategy, PackIndex] | None = None


# --- Sweeper: claim due automatic steps, recover lost ones ---------------------------------------


def followups_claim_due(*, now: dt.datetime, limit: int = 500) -> list[int]:
    """Claim due automatic follow-ups (pending → running) and return their ids. FOR UPDATE SKIP
    LOCKED lets two sweepers run at once without claiming the same row; the conditional update
    makes a second claim of a row a no-op anyway."""
    with transaction.atomic():
        ids = list(
            FollowUp.objects.select_for_update(skip_locked=True)
            .filter(status=FollowUpStatus.PENDING, kind=StepKind.AUTOMATIC, due_at__lte=now)
            .order_by("due_at").values_list("pk", flat=True)[:limit]
        )
        FollowUp.objects.filter(pk__in=ids, status=FollowUpStatus.PENDING).update(status=FollowUpStatus.RUNNING, claimed_at=now)
    return ids


def followups_reclaim_stale(*, now: dt.datetime, limit: int = 500) -> list[int]:
    """Running rows whose worker died or whose task was lost (Redis flushed) are handed out again
    once their lease has expired."""
    with transaction.atomic():
        ids = list(
            FollowUp.objects.select_for_update(skip_locked=True)
            .filter(status=FollowUpStatus.RUNNING, claimed_at__lt=now - claim_lease())
            .order_by("claimed_at").values_list("pk", flat=True)[:limit]
        )
        FollowUp.objects.filter(pk__in=ids, status=FollowUpStatus.RUNNING).update(claimed_at=now)
    return ids


def followup_execute(*, followup_id: int, now: dt.datetime) -> str:
    """Execute one claimed automatic step (see followups_execute). Returns what happened."""
    return followups_execute(followup_ids=[followup_id], now=now)[followup_id]


def followups_execute(*, followup_ids: list[int], now: dt.datetime) -> dict[int, str]:
    """Execute claimed automatic steps: for each, check the contact policy, render the message
    into the outbox, mark the step done (audit row); then plan the next step of all their cases
    at once (set-based). One transaction; each step in its own savepoint, so a step that fails
    stays claimed (the lease hands it out again) without undoing the others. Safe to run twice:
    only a row still ``running`` is executed. Returns what happened per id (for logs and tests)."""
    from .services_messaging import message_create

    outcomes: dict[int, str] = dict.fromkeys(followup_ids, "missing")
    case_ids = sorted(set(FollowUp.objects.filter(ids_q("pk", followup_ids)).values_list("case_id", flat=True)))
    if not case_ids:
        return outcomes
    with transaction.atomic():
        # Lock order: cases, then follow-ups (the order of every case service and of the replan),
        # each by id so that two batches sharing a case cannot deadlock.
        cases = {c.pk: c for c in Case.objects.select_for_update().filter(ids_q("pk", case_ids)).order_by("pk")}
        followups = {f.pk: f for f in FollowUp.objects.select_for_update(of=("self",)).filter(ids_q("pk", followup_ids))
                     .select_related("cadence_step").order_by("pk")}
        executed: set[int] = set()
        for fu in followups.values():
            if fu.status != FollowUpStatus.RUNNING:
                outcomes[fu.pk] = "not-claimed"
                continue
            try:
                with transaction.atomic():
                    outcome = message_create(followup=fu, case=cases[fu.case_id], now=now)
                    if outcome == "rescheduled":
                        fu.status, fu.claimed_at = FollowUpStatus.PENDING, None
                        fu.save(update_fields=["status", "claimed_at", "due_at", "policy_reason"])
                    else:
                        fu.status = FollowUpStatus.DONE if outcome == "queued" else (
                            FollowUpStatus.CANCELLED if outcome == "blocked" else FollowUpStatus.SKIPPED)
                        fu.completed_at = now
                        fu.save(update_fields=["status", "completed_at", "result"])
                    audit_record(actor=None, action=f"followup.{outcome}", obj=fu,
                                 after={"status": fu.status, "result": fu.result}, at=now)
            except Exception:
                if len(followup_ids) == 1:
                    raise
                log.exception("follow-up %s failed; it stays claimed until its lease expires", fu.pk)
                outcomes[fu.pk] = "failed"
                continue
            outcomes[fu.pk] = outcome
            executed.add(fu.case_id)
        if executed:
            followups_plan(case_ids=sorted(executed), now=now)
    return outcomes


def followup_complete(*, followup_id: int, actor, now: dt.datetime, result: str = "") -> FollowUp:
    """An agent marks a task done without logging a contact (e.g. the consequence was applied)."""
    case_id = FollowUp.objects.filter(pk=followup_id).values_list("case_id", flat=True).first()
    if case_id is None:
        raise ValidationError(_("This follow-up does not exist."))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        fu = FollowUp.objects.select_for_update().get(pk=followup_id)
        if fu.status != FollowUpStatus.PENDING or fu.kind != StepKind.AGENT_TASK:
            raise ValidationError(_("Only a scheduled agent task can be marked done."))
        fu.status, fu.completed_at, fu.completed_by, fu.result = FollowUpStatus.DONE, now, actor, result[:200]
        fu.save(update_fields=["status", "completed_at", "completed_by", "result"])
        audit_record(actor=actor, action="followup.completed", obj=fu, after={"status": fu.status, "result": fu.result}, at=now)
        case_replan_now(case=case, actor=actor, now=now)
    return fu


# --- Promise monitoring --------------------------------------------------------------------------


def promises_sweep(*, now: dt.datetime, limit: int = 2000) -> dict[str, int]:
    """The day after the grace period: unpaid promises are broken (partial if partly paid),
    unpaid instalments missed, and a plan with enough missed instalments defaulted. Each
    affected case is replanned at once. Guarded updates make a second run a no-op."""
    conf = FollowUpSettings.objects.filter(pk=1).first() or FollowUpSettings()
    cutoff = (now - dt.timedelta(days=conf.promise_grace_days)).date()
    counts = {"broken": 0, "partial": 0, "missed": 0, "defaulted": 0}
    touched: set[int] = set()
    with transaction.atomic():
        for promise in PromiseToPay.objects.select_for_update(skip_locked=True).filter(
            status=PromiseStatus.PENDING, due_date__lt=cutoff
        ).order_by("due_date")[:limit]:
            new = PromiseStatus.PARTIAL if promise.amount_paid > 0 else PromiseStatus.BROKEN
            PromiseToPay.objects.filter(pk=promise.pk, status=PromiseStatus.PENDING).update(status=new, resolved_at=now)
            audit_record(actor=None, action=f"promise.{new}", obj=promise, before={"status": "pending"}, after={"status": new}, at=now)
            counts[new] += 1
            touched.add(promise.case_id)
        for inst in Instalment.objects.select_for_update(skip_locked=True).filter(
            plan__status=PlanStatus.ACTIVE, status__in=[InstalmentStatus.PENDING, InstalmentStatus.PARTIAL], due_date__lt=cutoff
        ).select_related("plan")[:limit]:
            Instalment.objects.filter(pk=inst.pk, status=inst.status).update(status=InstalmentStatus.MISSED)
            audit_record(actor=None, action="instalment.missed", obj=inst, before={"status": inst.status},
                         after={"status": "missed"}, case_id=inst.plan.case_id, at=now)
            counts["missed"] += 1
            touched.add(inst.plan.case_id)
        for plan in PaymentPlan.objects.filter(case_id__in=touched, status=PlanStatus.ACTIVE).annotate(
            missed=Count("instalments", filter=Q(instalments__status=InstalmentStatus.MISSED))
        ).filter(missed__gte=conf.missed_instalments_to_default):
            PaymentPlan.objects.filter(pk=plan.pk, status=PlanStatus.ACTIVE).update(status=PlanStatus.DEFAULTED)
            audit_record(actor=None, action="plan.defaulted", obj=plan, before={"status": "active"}, after={"status": "defaulted"}, at=now)
            counts["defaulted"] += 1
        # A case whose commitments are all gone is worked again.
        still_promised = set(PromiseToPay.objects.filter(case_id__in=touched, status=PromiseStatus.PENDING).values_list("case_id", flat=True))
        still_plan = set(PaymentPlan.objects.filter(case_id__in=touched, status=PlanStatus.ACTIVE).values_list("case_id", flat=True))
        for case in Case.objects.select_for_update().filter(pk__in=touched):
            wanted = case.status
            if case.status == CaseStatus.PROMISED and case.pk not in still_promised:
                wanted = CaseStatus.ACTIVE
            if case.status == CaseStatus.PLAN and case.pk not in still_plan:
                wanted = CaseStatus.ACTIVE
            if wanted != case.status:
                Case.objects.filter(pk=case.pk).update(status=wanted)
                audit_record(actor=None, action="case.status_changed", obj=case, before={"status": case.status},
                             after={"status": wanted}, at=now)
        if touched:
            followups_plan(case_ids=sorted(touched), now=now)
    return counts


def cases_replan_forgotten(*, now: dt.datetime, limit: int = 2000) -> int:
    """Safety net for "never wait and see": workable cases with no live follow-up whose next
    action is missing or past (e.g. a do-not-contact flag was lifted) are planned again."""
    ids = list(
        Case.objects.filter(status__in=CaseStatus.workable_values())
        .filter(Q(next_action_at__isnull=True) | Q(next_action_at__lte=now))
        .exclude(followups__status__in=LIVE)
        # Paused by a debtor flag: nothing to plan until the flag is lifted.
        .exclude(contact_paused_q("debtor__"))
        .order_by("next_action_at").values_list("pk", flat=True)[:limit]
    )
    if ids:
        followups_plan(case_ids=ids, now=now)
    return len(ids)
