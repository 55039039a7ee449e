"""The objective planner: from a case's state and history, its objective and next step.

Pure and explainable: it takes plain data (``CaseFacts``, the admin-edited ``Strategy``) and
``now``, and returns a ``Plan`` whose ``reason`` names the fact that decided ("Excuse: «invoice
not received» on 02/12 → Remove barriers"), as a code and parameters (engine.reasons) that are
put into words in the reader's language. No ORM, no clock; engine.facts gathers the facts in a
few set-based queries and engine.planning writes the result.

How a plan is made (seed 001 for the objectives, seed 002 for "never wait and see"):
1. Paid or closed → no next step. Dispute, hold, cease-communication, do-not-contact, attorney,
   deceased or bankruptcy → paused: no collection contact.
2. The first active strategy rule in the case's scope (creditor, debtor kind) whose condition
   holds chooses the objective; its "anchor" is when that situation began (the barrier was
   opened, the promise broken, the excuse given, ...). An excuse's category may name its usual
   objective (the catalogue): the excuse rule follows it. An argument (a genuine inability to
   pay, seed 004) is not an excuse: it leads to payment options.
3. The next step: an agreed call-back if the agent set one; else, while a promise or instalment
   is pending, the reminder the day before (and then nothing until the check the day after the
   grace period); else the next step of the objective's cadence, counted in days from the
   anchor and never closer to the previous step than the cadence's own spacing. After the last
   step, the last step is repeated every ``repeat_every_days``: no case is forgotten.
"""


from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal

from cases.choices import Channel, Objective
from cases.reasons import Reason, iso, money, reason

from .policy import PAUSED_STATUSES

CADENCE = "cadence"
PROMISE_REMINDER = "promise_reminder"
CALLBACK = "callback"
AUTOMATIC = "automatic"
AGENT_TASK = "agent_task"

# The debtor flags that pause every collection contact, in the order they are reported (the
# codes are the contact policy's refusal reasons).
PAUSING_FLAGS = ("cease_communication", "do_not_contact", "attorney_represented", "deceased", "bankruptcy")
# An excuse that opened a barrier is the barrier's origin when they are this close in time.
BARRIER_FROM_EXCUSE = dt.timedelta(days=1)
DEFAULT_EXCUSE_WINDOW = 30


@dataclass(frozen=True)
class Rule:
    id: int | None
    position: int
    condition: str
    objective: str
    threshold: int = 0
    name: str = ""
    window_days: int = 0
    amount: Decimal | None = None
    creditor_id: int | None = None
    debtor_kind: str = ""

    def in_scope(self, facts: CaseFacts) -> bool:
        return (self.creditor_id is None or self.creditor_id == facts.creditor_id) and (
            not self.debtor_kind or self.debtor_kind == facts.debtor_kind)

    @property
    def excuse_window(self) -> int:
        return self.window_days or DEFAULT_EXCUSE_WINDOW


@dataclass(frozen=True)
class Step:
    id: int | None
    position: int
    delay_days: int
    channel: str
    kind: str
    send_time: dt.time = dt.time(10)
    template_id: int | None = None
    instructions: str = ""
    is_consequence: bool = False


@dataclass(frozen=True)
class CadenceInfo:
    objective: str
    steps: tuple[Step, ...]
    repeat_every_days: int = 7


@dataclass(frozen=True)
class Strategy:
    rules: tuple[Rule, ...]
    cadences: dict[str, CadenceInfo]
    reminder_days_before: int = 1
    reminder_channel: str = "sms"
    reminder_template_id: int | None = None
    grace_days: int = 1

    def excuse_windows(self) -> set[int]:
        """The "within D days" windows the rules count excuses in (engine.facts counts each)."""
        return {r.excuse_window for r in self.rules if r.condition == "excuses_in_window"}


@dataclass(frozen=True)
class Commitment:
    """The earliest pending promise or unpaid instalment of an active plan."""

    kind: str  # "promise" | "instalment"
    amount: Decimal
    due_date: dt.date


@dataclass(frozen=True)
class DoneStep:
    """The latest finished (done or skipped) cadence follow-up of the case."""

    objective: str
    anchor_at: dt.datetime
    step: int
    completed_at: dt.datetime


@dataclass(frozen=True)
class Statement:
    """What the debtor last said about paying (seed 004): an argument (a real reason, such as a
    lost job) or an excuse, with its catalogue category if the agent chose one."""

    at: dt.datetime
    kind: str  # "argument" | "excuse"
    excuse: str = ""  # category code
    is_barrier: bool = False
    usual_objective: str = ""


@dataclass(frozen=True)
class CaseFacts:
    case_id: int
    status: str
    due_date: dt.date
    created_at: dt.datetime
    timezone: str = "Europe/Madrid"
    currency: str = "EUR"
    balance: Decimal = Decimal("0")
    creditor_id: int | None = None
    debtor_kind: str = "person"
    debtor_flags: frozenset[str] = frozenset()
    open_barrier_at: dt.datetime | None = None
    open_barrier_kind: str = ""
    commitment: Commitment | None = None
    broken_count: int = 0
    last_broken_at: dt.datetime | None = None
    last_broken_due: dt.date | None = None
    last_commitment_at: dt.datetime | None = None
    consequence_at: dt.datetime | None = None
    last_refusal_at: dt.datetime | None = None
    last_excuse_at: dt.datetime | None = None
    # Excuses (not arguments, not barriers) within the last D days, by D (Strategy.excuse_windows).
    excuse_counts: dict[int, int] = field(default_factory=dict)
    last_statement: Statement | None = None
    acknowledged_at: dt.datetime | None = None
    last_payment_at: dt.datetime | None = None
    last_payment_amount: Decimal | None = None
    last_contact_at: dt.datetime | None = None
    last_outcome: str = ""
    callback_at: dt.datetime | None = None
    callback_note: str = ""
    last_done: DoneStep | None = None
    # anchor_at of promise reminders already sent or skipped (one per commitment date)
    reminded_anchors: frozenset[dt.datetime] = frozenset()


@dataclass(frozen=True)
class PlannedStep:
    purpose: str
    objective: str
    step: int
    channel: str
    kind: str
    due_at: dt.datetime
    anchor_at: dt.datetime
    reason: Reason
    cadence_step_id: int | None = None
    template_id: int | None = None
    instructions: str = ""
    is_consequence: bool = False

    @property
    def key(self) -> tuple:
        """Two plans with the same key are the same step (replanning keeps the existing row)."""
        return (self.purpose, self.objective, self.step, self.anchor_at, self.channel, self.kind)


@dataclass(frozen=True)
class Plan:
    state: str  # "active" | "paused" | "closed"
    objective: str | None
    reason: Reason
    rule_id: int | None = None
    step: PlannedStep | None = None
    next_action_at: dt.datetime | None = None
    next_action_note: Reason = field(default_factory=dict)
    # Why the case is paused: a contact-policy refusal code (a flag) or the case status.
    paused_by: str = ""


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


@functools.lru_cache(maxsize=4096)
def _local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    # (Cached: a portfolio's cases share a few hundred due dates and zones.)
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


@functools.lru_cache(maxsize=256)
def _local_date(at: dt.datetime, tz: dt.tzinfo) -> dt.date:
    return at.astimezone(tz).date()


def _excuse_params(statement: Statement | None, at: dt.datetime | None) -> dict:
    """The category of the statement made at ``at``, when the agent chose one."""
    if statement is not None and statement.excuse and at is not None and statement.at == at:
        return {"excuse": statement.excuse}
    return {}


def _day(at: dt.datetime, tz: dt.tzinfo) -> str:
    """A moment as its date in the debtor's zone (a reason's date parameter)."""
    return _local_date(at, tz).isoformat()


# One function per rule condition: (objective, anchor, reason) when it holds for the case, else None.
Match = tuple[str, dt.datetime, Reason] | None


def _open_barrier(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    if not f.open_barrier_at:
        return None
    objective, st = rule.objective, f.last_statement
    if st is not None and st.is_barrier and st.excuse and abs(st.at - f.open_barrier_at) <= BARRIER_FROM_EXCUSE:
        return objective, f.open_barrier_at, reason("barrier_excuse", excuse=st.excuse, date=_day(st.at, tz), objective=objective)
    return objective, f.open_barrier_at, reason("barrier_open", date=_day(f.open_barrier_at, tz), kind=f.open_barrier_kind or "other",
                                                objective=objective)


def _promise_pending(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    if not (c := f.commitment):
        return None
    return rule.objective, _local_midnight(c.due_date, tz), reason(
        "commitment_pending", what=c.kind, amount=money(c.amount), currency=f.currency, date=c.due_date.isoformat(),
        objective=rule.objective)


def _consequence_applied(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    if not f.consequence_at or (f.last_commitment_at is not None and f.consequence_at <= f.last_commitment_at):
        return None
    return rule.objective, f.consequence_at, reason("consequence", date=_day(f.consequence_at, tz), objective=rule.objective)


def _broken_promises(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    if not f.last_broken_at or f.broken_count < max(rule.threshold, 1):
        return None
    params = {"due_date": iso(f.last_broken_due), "date": _day(f.last_broken_at, tz), "objective": rule.objective}
    if f.broken_count > 1:
        return rule.objective, f.last_broken_at, reason("broken_many", n=f.broken_count, **params)
    return rule.objective, f.last_broken_at, reason("broken", **params)


def _refusal(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    if not f.last_refusal_at:
        return None
    excuse = _excuse_params(f.last_statement, f.last_refusal_at)
    return rule.objective, f.last_refusal_at, reason("refusal_excuse" if excuse else "refusal", date=_day(f.last_refusal_at, tz),
                                                     objective=rule.objective, **excuse)


def _excuses_in_window(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    n = f.excuse_counts.get(rule.excuse_window, 0)
    if not f.last_excuse_at or n < max(rule.threshold, 1):
        return None
    excuse = _excuse_params(f.last_statement, f.last_excuse_at)
    # The episode starts with the excuse that reached the count: a later one re-anchors it.
    return rule.objective, f.last_excuse_at, reason("excuses_repeated" if excuse else "excuses_repeated_plain", n=n,
                                                    days=rule.excuse_window, date=_day(f.last_excuse_at, tz),
                                                    objective=rule.objective, **excuse)


def _argument_given(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    st = f.last_statement
    if st is None or st.kind != "argument" or (f.last_commitment_at is not None and st.at <= f.last_commitment_at):
        return None
    params = {"excuse": st.excuse} if st.excuse else {}
    return rule.objective, st.at, reason("argument" if st.excuse else "argument_plain", date=_day(st.at, tz),
                                         objective=rule.objective, **params)


def _partial_payment(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    if not f.last_payment_at or f.balance <= 0 or f.commitment is not None or (
        f.last_commitment_at is not None and f.last_payment_at <= f.last_commitment_at
    ):
        return None
    return rule.objective, f.last_payment_at, reason("partial_payment", amount=money(f.last_payment_amount or Decimal(0)),
                                                     currency=f.currency, date=_day(f.last_payment_at, tz), objective=rule.objective)


def _acknowledged(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    at = f.acknowledged_at
    if not at or f.commitment is not None or (f.last_commitment_at is not None and at <= f.last_commitment_at) or (
        f.last_payment_at is not None and at <= f.last_payment_at
    ):
        return None
    return rule.objective, at, reason("acknowledged", date=_day(at, tz), objective=rule.objective)


def _excuse_given(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    if not f.last_excuse_at:
        return None
    objective, st = rule.objective, f.last_statement
    excuse = _excuse_params(st, f.last_excuse_at)
    if st is not None and excuse and st.usual_objective and not st.is_barrier:
        # The catalogue's usual objective for this excuse (a barrier's is served by the barrier rule).
        objective = st.usual_objective
    return objective, f.last_excuse_at, reason("excuse" if excuse else "excuse_plain", date=_day(f.last_excuse_at, tz),
                                               objective=objective, **excuse)


def _balance_at_least(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    if rule.amount is None or f.balance < rule.amount or dpd < rule.threshold:
        return None
    anchor = max(_local_midnight(f.due_date + dt.timedelta(days=rule.threshold), tz), f.created_at)
    return rule.objective, anchor, reason("balance_at_least", amount=money(f.balance), min_amount=money(rule.amount),
                                          currency=f.currency, n=dpd, objective=rule.objective)


def _days_since_contact(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    if f.last_contact_at is None:
        return rule.objective, f.created_at, reason("never_contacted", n=dpd, objective=rule.objective)
    days = (now - f.last_contact_at).days
    if days < rule.threshold:
        return None
    return rule.objective, f.last_contact_at + dt.timedelta(days=rule.threshold), reason(
        "no_contact_since", date=_day(f.last_contact_at, tz), n=days, objective=rule.objective)


def _days_past_due(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    if dpd < rule.threshold:
        return None
    anchor = max(_local_midnight(f.due_date + dt.timedelta(days=rule.threshold), tz), f.created_at)
    return rule.objective, anchor, reason("days_past_due", n=dpd, min=rule.threshold, objective=rule.objective)


def _always(rule: Rule, f: CaseFacts, now: dt.datetime, tz: dt.tzinfo, dpd: int) -> Match:
    objective = rule.objective
    if dpd == 0:
        why = reason("not_yet_due", objective=objective)
    elif f.last_contact_at is not None:
        why = reason("contacted", date=_day(f.last_contact_at, tz), outcome=f.last_outcome or "right_party", n=dpd, objective=objective)
    elif (now - f.created_at).days < 7:
        why = reason("new_case", n=dpd, objective=objective)
    else:
        why = reason("overdue", n=dpd, objective=objective)
    return objective, f.created_at, why


CONDITIONS = {
    "open_barrier": _open_barrier, "promise_pending": _promise_pending, "consequence_applied": _consequence_applied,
    "broken_promises_at_least": _broken_promises, "refusal": _refusal, "excuses_in_window": _excuses_in_window,
    "argument_given": _argument_given, "partial_payment_no_agreement": _partial_payment, "acknowledged_no_date": _acknowledged,
    "excuse_given": _excuse_given, "balance_at_least": _balance_at_least, "days_since_contact_at_least": _days_since_contact,
    "days_past_due_at_least": _days_past_due, "always": _always,
}


def choose_objective(facts: CaseFacts, strategy: Strategy, now: dt.datetime) -> tuple[Rule | None, str, dt.datetime, Reason]:
    """(rule, objective, anchor, reason) for an open, workable case."""
    tz = _zone(facts.timezone)
    dpd = max((_local_date(now, tz) - facts.due_date).days, 0)
    for rule in strategy.rules:
        test = CONDITIONS.get(rule.condition)
        if test is not None and rule.in_scope(facts) and (hit := test(rule, facts, now, tz, dpd)) is not None:
            objective, anchor, why = hit
            return rule, objective, anchor, why
    return None, Objective.REMIND, facts.created_at, reason("no_rule", objective=Objective.REMIND)


def _at_local(anchor: dt.datetime, days: int, send_time: dt.time, tz: dt.tzinfo) -> dt.datetime:
    day = anchor.astimezone(tz).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, send_time, tzinfo=tz).astimezone(dt.UTC)


def _cadence_step(facts: CaseFacts, strategy: Strategy, objective: str, anchor: dt.datetime, why: Reason,
                  now: dt.datetime, tz: dt.tzinfo) -> PlannedStep:
    cadence = strategy.cadences.get(objective)
    if cadence is None or not cadence.steps:
        # No cadence configured: an agent reviews the case today rather than it being forgotten.
        return PlannedStep(CADENCE, objective, 0, Channel.PHONE, AGENT_TASK, now, anchor, why,
                           instructions="No cadence is configured for this objective: review the case.")
    steps = cadence.steps
    last = facts.last_done
    same_episode = last is not None and last.objective == objective and last.anchor_at == anchor
    index = last.step + 1 if last is not None and same_episode else 0
    if index < len(steps):
        step = steps[index]
        due = anchor if step.delay_days == 0 else _at_local(anchor, step.delay_days, step.send_time, tz)
        if last is not None and same_episode and index > 0:
            # Late cases keep the cadence's spacing instead of firing every overdue step at once.
            gap = step.delay_days - steps[index - 1].delay_days
            due = max(due, last.completed_at if gap == 0 else _at_local(last.completed_at, gap, step.send_time, tz))
    else:
        # Past the last step, so the last one was done in this episode.
        assert last is not None
        step = steps[-1]
        due = _at_local(last.completed_at, cadence.repeat_every_days, step.send_time, tz)
    return PlannedStep(
        CADENCE, objective, index, step.channel, step.kind, max(due, now), anchor, why,
        cadence_step_id=step.id, template_id=step.template_id, instructions=step.instructions,
        is_consequence=step.is_consequence,
    )


def paused_by(facts: CaseFacts) -> str:
    """Why collection contact is paused ("" when it is not): the case status or a debtor flag."""
    if facts.status in PAUSED_STATUSES:
        return facts.status
    for flag in PAUSING_FLAGS:
        if flag in facts.debtor_flags:
            return flag
    return ""


def step_note(step: PlannedStep) -> Reason:
    if step.purpose == CALLBACK and not step.instructions:
        return step.reason
    params = {"channel": step.channel, "objective": step.objective}
    if step.instructions:
        return reason("step_instructions", instructions=step.instructions, **params)
    return reason("step", **params)


def plan_case(facts: CaseFacts, strategy: Strategy, now: dt.datetime) -> Plan:
    if facts.status in ("paid", "closed"):
        return Plan("closed", None, reason(facts.status))
    if why_paused := paused_by(facts):
        why = reason("paused", why=why_paused)
        return Plan("paused", None, why, next_action_note=why, paused_by=why_paused)

    tz = _zone(facts.timezone)
    rule, objective, anchor, why = choose_objective(facts, strategy, now)
    rule_id = rule.id if rule else None

    if facts.callback_at is not None:
        step = PlannedStep(CALLBACK, objective, 0, Channel.PHONE, AGENT_TASK, facts.callback_at, facts.callback_at,
                           reason("callback", date=iso(facts.callback_at, tz)), instructions=facts.callback_note)
    elif facts.commitment is not None:
        c = facts.commitment
        commitment_anchor = _local_midnight(c.due_date, tz)
        remind_at = _at_local(commitment_anchor, -strategy.reminder_days_before, dt.time(10), tz)
        check_at = _local_midnight(c.due_date + dt.timedelta(days=strategy.grace_days + 1), tz)
        # Until the day itself; a promise made the day before gets its reminder at once.
        if now < commitment_anchor and commitment_anchor not in facts.reminded_anchors:
            step = PlannedStep(PROMISE_REMINDER, objective, 0, strategy.reminder_channel, AUTOMATIC, max(remind_at, now),
                               commitment_anchor, why, template_id=strategy.reminder_template_id)
        else:
            # Nothing to send: the promise sweep checks the payment once the grace period ends.
            return Plan("active", objective, why, rule_id, None, check_at, reason("check_payment", date=c.due_date.isoformat()))
    else:
        step = _cadence_step(facts, strategy, objective, anchor, why, now, tz)
    return Plan("active", objective, why, rule_id, step, step.due_at, step_note(step))
