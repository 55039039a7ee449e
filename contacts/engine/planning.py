"""Planning: the one write path of a case's plan.

Owns ``followups_plan(case_ids=[...])``: lock the cases (a batch skips those another transaction
holds), gather their facts, ask the pure planner, keep or cancel live follow-ups, create the next
step moved by the contact policy, and write objective and next action (engine.writes). A single
case is planned through cases.hooks.plan_cases (answered by ``cases_plan``) inside every case
service's transaction; the portfolio replan (``followups_plan_portfolio``) calls it with batches of
thousands, in forked processes when asked."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass
from typing import cast

from django.db import transaction
from django.utils.translation import gettext_noop

from cases import reasons
from cases.choices import (
    CaseStatus,
    Channel,
)
from cases.models import Case
from cases.services import commitments_postpone
from collections_crm.core import bulk, parallel

from ..lookups import ids_q, span_q
from ..models import (
    ContactAttempt,
    ContactRefusal,
    FollowUp,
    FollowUpSettings,
    FollowUpStatus,
    PausedCommitments,
    RefusalStage,
    StepKind,
)
from . import planner, policy
from .contact_policy import PackIndex, contact_histories
from .facts import facts_gather
from .strategy import config_current, packs_cached, strategy_cached, strategy_invalidate, strategy_load
from .writes import NEW_FOLLOWUP_FIELDS, REFUSAL_FIELDS, cases_plan_update, insert_rows

LIVE = [FollowUpStatus.PENDING, FollowUpStatus.RUNNING]


@dataclass
class PlanStats:
    cases: int = 0
    created: int = 0
    kept: int = 0
    cancelled: int = 0
    completed: int = 0
    objective_changed: int = 0
    moved_by_policy: int = 0
    paused: int = 0  # cases the engine started holding (a dispute, a hold, a debtor flag)
    resumed: int = 0
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
                completed_attempt_id=attempt[0], result=gettext_noop("Worked by the agent"),
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
        config_ok = config_current(strategy, packs, actor_id, lock=batch)
        if not config_ok:
            strategy_invalidate()
            strategy, packs = strategy_cached(), packs_cached()
            config_ok = config_current(strategy, packs, actor_id, lock=batch)
        stats.completed = _complete_worked_tasks(case_ids, now)
        windows = strategy.excuse_windows() or {planner.DEFAULT_EXCUSE_WINDOW}
        facts, rows = facts_gather(case_ids, now, grace_days=strategy.grace_days, excuse_windows=windows)
        plans = {case_id: planner.plan_case(f, strategy, now) for case_id, f in facts.items()}
        # A pause that lifts: commitments move by its length (as the admin set), then are planned anew.
        lifted = [cid for cid, p in plans.items() if p.state == "active" and rows[cid]["paused_at"] is not None]
        if lifted and commitments_shift(case_ids=lifted, now=now, actor_id=getattr(actor, "pk", None)):
            refreshed, _rows = facts_gather(lifted, now, grace_days=strategy.grace_days, excuse_windows=windows)
            plans.update({cid: planner.plan_case(f, strategy, now) for cid, f in refreshed.items()})
        live: dict[int, list[dict]] = defaultdict(list)
        for live_row in FollowUp.objects.filter(span_q("case_id", rows), status__in=LIVE).values(
            "id", "case_id", "purpose", "objective", "step", "anchor_at", "channel", "kind", "due_at", "status", "policy_reason"
        ):
            live[live_row["case_id"]].append(cast(dict, live_row))
        need_history = [(cid, rows[cid]["debtor_id"]) for cid, p in plans.items()
                        if p.step and not any(_same(fu, p.step) for fu in live[cid])]
        calls = [cid for cid, _debtor in need_history if (step := plans[cid].step) is not None and step.channel == Channel.PHONE]
        histories = contact_histories(cases=need_history, now=now, calls_for=calls) if need_history else {}

        cancel_ids: list[int] = []
        # Live follow-ups a pause cancels: (case id, follow-up id, channel, refusal code).
        paused_cancels: list[tuple[int, int, str, str]] = []
        new_rows: list[tuple] = []
        moved_rows: list[tuple] = []
        updates: list[tuple] = []
        moved: list[tuple] = []
        for case_id, plan in plans.items():
            row = rows[case_id]
            stats.cases += 1
            keep: dict | None = None
            for fu in live[case_id]:
                if plan.step and keep is None and _same(fu, plan.step):
                    keep = fu
                elif plan.state == "paused":
                    paused_cancels.append((case_id, fu["id"], fu["channel"], PAUSE_CODES.get(plan.paused_by, plan.paused_by)))
                else:
                    cancel_ids.append(fu["id"])
            next_at, note = plan.next_action_at, plan.next_action_note
            if keep is not None:
                stats.kept += 1
                next_at = keep["due_at"]
                if keep["policy_reason"]:
                    note = reasons.moved(note, keep["policy_reason"])
            elif plan.step is not None:
                pack, rules = packs.for_country(row["debtor__country"])
                due, moved_reason = _apply_policy(plan.step, row, rules, histories[case_id])
                s = plan.step
                is_moved = moved_reason and due != s.due_at
                (moved_rows if is_moved else new_rows).append((
                    case_id, s.objective, s.purpose, s.step, s.channel, s.kind, due, s.anchor_at, plan.rule_id,
                    s.cadence_step_id, s.reason, s.instructions[:200], s.is_consequence,
                    moved_reason if is_moved else "",
                ))
                if is_moved:
                    # Moved, never dropped, and recorded like a refusal at send time.
                    moved.append((case_id, s.channel, moved_reason, due, getattr(pack, "pk", None)))
                    note = reasons.moved(note, moved_reason)
                next_at = due
            objective = plan.objective or row["objective"]
            reason = plan.reason
            if plan.state == "closed":
                next_at, note = None, {}
            if plan.state == "paused" and plan.paused_by == CaseStatus.DISPUTED:
                # A dispute stops collection but is itself work: the agent's task to review it is
                # due from the moment the case was paused; a time the agent chose later is kept.
                if row["paused_at"] is None or row["next_action_at"] is None:
                    next_at, note = now, reasons.reason("review_dispute")
                else:
                    next_at, note = row["next_action_at"], row["next_action_note"]
            paused_at = (row["paused_at"] or now) if plan.state == "paused" else None
            stats.paused += paused_at is not None and row["paused_at"] is None
            stats.resumed += paused_at is None and row["paused_at"] is not None
            if (objective, reason, next_at, note, paused_at) != (
                row["objective"], row["objective_reason"], row["next_action_at"], row["next_action_note"], row["paused_at"]
            ):
                updates.append((case_id, objective, reason, next_at, note, plan.rule_id, paused_at, plan.paused_by))
            if objective != row["objective"]:
                stats.objective_changed += 1
        if cancel_ids:
            stats.cancelled = FollowUp.objects.filter(ids_q("pk", cancel_ids), status__in=LIVE).update(
                status=FollowUpStatus.CANCELLED, completed_at=now, result=gettext_noop("Replanned")
            )
        if paused_cancels:
            # Held by a pause: each cancelled step says why (its result and a refusal row, charted
            # with the contact policy's refusals).
            by_code: dict[str, list[int]] = defaultdict(list)
            for _case_id, fu_id, _channel, code in paused_cancels:
                by_code[code].append(fu_id)
            cancelled: set[int] = set()
            for code, fu_ids in by_code.items():
                cancelled.update(FollowUp.objects.filter(ids_q("pk", fu_ids), status__in=LIVE).values_list("pk", flat=True))
                FollowUp.objects.filter(ids_q("pk", fu_ids), status__in=LIVE).update(
                    status=FollowUpStatus.CANCELLED, completed_at=now, result=code)
            stats.cancelled += len(cancelled)
            insert_rows(ContactRefusal, REFUSAL_FIELDS, [
                (case_id, channel, code, RefusalStage.SCHEDULE, now, None, None, fu_id, actor_id)
                for case_id, fu_id, channel, code in paused_cancels if fu_id in cancelled
            ])
        # Every row written below points to a case locked above, a rule, step, pack or actor
        # locked by config_current, or a follow-up written here: a batch skips the per-row checks.
        with bulk.foreign_key_checks_skipped() if config_ok and batch else nullcontext():
            insert_rows(FollowUp, NEW_FOLLOWUP_FIELDS, new_rows, status=FollowUpStatus.PENDING, result="", created_at=now)
            # The moved ones apart: only their refusals need the new ids.
            moved_ids = insert_rows(FollowUp, NEW_FOLLOWUP_FIELDS, moved_rows, want_ids=True, status=FollowUpStatus.PENDING, result="",
                                created_at=now)
            stats.created = len(new_rows) + len(moved_rows)
            stats.moved_by_policy = len(moved)
            insert_rows(ContactRefusal, REFUSAL_FIELDS, [
                (case_id, channel, reason, RefusalStage.SCHEDULE, now, due, pack_id, followup_id, actor_id)
                for (case_id, channel, reason, due, pack_id), followup_id in zip(moved, moved_ids, strict=True)
            ])
            cases_plan_update(updates, rows, now=now, actor_id=actor_id)
    return stats, plans


# A pause's refusal code: a debtor flag is its own code; a dispute or a hold is "case paused".
PAUSE_CODES = {"disputed": policy.CASE_PAUSED, "on_hold": policy.CASE_PAUSED}


def commitments_shift(*, case_ids: list[int], now: dt.datetime, actor_id: int | None) -> int:
    """A pause lifted on these cases (locked by the caller): with the admin's "shift" setting,
    their commitments move by the pause's length in whole days (cases.services.commitments_postpone),
    so that none is broken for the time the case was held. Returns how many moved (0 with the
    "evaluate" setting: the promise sweep then judges them as they stand)."""
    conf = FollowUpSettings.objects.filter(pk=1).first() or FollowUpSettings()
    if conf.paused_commitments != PausedCommitments.SHIFT:
        return 0
    days = {pk: (now - at).days for pk, at in Case.objects.filter(ids_q("pk", case_ids), paused_at__isnull=False)
            .values_list("pk", "paused_at") if at is not None}
    return commitments_postpone(days_by_case={pk: d for pk, d in days.items() if d >= 1}, actor_id=actor_id, now=now)


def _same(fu: dict, step: planner.PlannedStep) -> bool:
    return (fu["purpose"], fu["objective"], fu["step"], fu["anchor_at"], fu["channel"], fu["kind"]) == step.key


def cases_plan(*, case_ids: list[int], now: dt.datetime, actor=None) -> dict[int, planner.Plan]:
    """The engine's answer to cases.hooks.plan_cases: plan these cases inside the caller's
    transaction (every case service calls it after its change, with the case locked)."""
    _stats, plans = followups_plan(case_ids=case_ids, now=now, actor=actor)
    return plans


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
