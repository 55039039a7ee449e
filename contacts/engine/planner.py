"""The objective planner: from a case's state and history, its objective and next step.

Pure and explainable: it takes plain data (``CaseFacts``, the admin-edited ``Strategy``) and
``now``, and returns a ``Plan`` whose ``reason`` a person understands ("Promise of 12/03/2026
broken 2 days ago → Get a commitment"). No ORM, no clock; contacts/services.py gathers the
facts in a few set-based queries and writes the result.

How a plan is made (seed 001 for the objectives, seed 002 for "never wait and see"):
1. Paid or closed → no next step. Dispute, hold, cease-communication, do-not-contact, attorney,
   deceased or bankruptcy → paused: no collection contact.
2. The first active strategy rule whose condition holds chooses the objective; its "anchor" is
   when that situation began (the barrier was opened, the promise broken, ...).
3. The next step: an agreed call-back if the agent set one; else, while a promise or instalment
   is pending, the reminder the day before (and then nothing until the check the day after the
   grace period); else the next step of the objective's cadence, counted in days from the
   anchor and never closer to the previous step than the cadence's own spacing. After the last
   step, the last step is repeated every ``repeat_every_days``: no case is forgotten.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import get_language, gettext, gettext_lazy

from cases.choices import Channel, Objective

CADENCE = "cadence"
PROMISE_REMINDER = "promise_reminder"
CALLBACK = "callback"
AUTOMATIC = "automatic"
AGENT_TASK = "agent_task"

PAUSING_FLAGS = {
    "cease_communication": gettext_lazy("Cease communication requested"),
    "do_not_contact": gettext_lazy("Do not contact"),
    "attorney_represented": gettext_lazy("Represented by an attorney"),
    "deceased": gettext_lazy("Deceased"),
    "bankruptcy": gettext_lazy("In bankruptcy"),
}


@functools.lru_cache(maxsize=512)
def _translated(language: str | None, message: str) -> str:
    return gettext(message)


# The language of the plan being made (set once per plan: get_language() is too slow to call for
# every message of a million-case replan).
_state = threading.local()


def _(message: str) -> str:
    # Portfolio replans build a million reasons: look each message up once per language.
    return _translated(getattr(_state, "language", None), message)


@functools.lru_cache(maxsize=64)
def _choice_label(language: str | None, choices: type, value: str) -> str:
    return str(choices(value).label)


def _label(objective: str, choices: type = Objective) -> str:
    return _choice_label(getattr(_state, "language", None), choices, objective)


@dataclass(frozen=True)
class Rule:
    id: int | None
    position: int
    condition: str
    objective: str
    threshold: int = 0
    name: str = ""


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
class CaseFacts:
    case_id: int
    status: str
    due_date: dt.date
    created_at: dt.datetime
    timezone: str = "Europe/Madrid"
    currency: str = "EUR"
    debtor_flags: frozenset[str] = frozenset()
    open_barrier_at: dt.datetime | None = None
    commitment: Commitment | None = None
    broken_count: int = 0
    last_broken_at: dt.datetime | None = None
    last_broken_due: dt.date | None = None
    last_commitment_at: dt.datetime | None = None
    consequence_at: dt.datetime | None = None
    last_refusal_at: dt.datetime | None = None
    last_excuse_at: dt.datetime | None = None
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
    reason: str
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
    reason: str
    rule_id: int | None = None
    step: PlannedStep | None = None
    next_action_at: dt.datetime | None = None
    next_action_note: str = ""
    details: dict = field(default_factory=dict)


def _fmt(day: dt.date | dt.datetime | None) -> str:
    if day is None:
        return ""
    # dd/mm/yyyy (by hand: strftime costs more than the rest of a plan's text).
    return f"{day.day:02d}/{day.month:02d}/{day.year:04d}"


def _ago(now: dt.datetime, when: dt.datetime) -> str:
    days = (now - when).days
    if days <= 0:
        return _("today")
    if days == 1:
        return _("1 day ago")
    return _("%(n)d days ago") % {"n": days}


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


def choose_objective(facts: CaseFacts, strategy: Strategy, now: dt.datetime) -> tuple[Rule | None, str, dt.datetime, str]:
    """(rule, objective, anchor, reason) for an open, workable case."""
    tz = _zone(facts.timezone)
    dpd = max((_local_date(now, tz) - facts.due_date).days, 0)
    for rule in strategy.rules:
        cond = rule.condition
        if cond == "open_barrier" and facts.open_barrier_at:
            return rule, rule.objective, facts.open_barrier_at, _("Payment barrier open since %(date)s → %(objective)s") % {
                "date": _fmt(facts.open_barrier_at), "objective": _label(rule.objective)}
        if cond == "promise_pending" and facts.commitment:
            c = facts.commitment
            what = _("Promise") if c.kind == "promise" else _("Instalment")
            return rule, rule.objective, _local_midnight(c.due_date, tz), _(
                "%(what)s of %(amount)s %(currency)s due %(date)s → %(objective)s (reminder the day before, check after)") % {
                "what": what, "amount": c.amount, "currency": facts.currency, "date": _fmt(c.due_date), "objective": _label(rule.objective)}
        if cond == "consequence_applied" and facts.consequence_at and (
            facts.last_commitment_at is None or facts.consequence_at > facts.last_commitment_at
        ):
            return rule, rule.objective, facts.consequence_at, _("Consequence applied on %(date)s → %(objective)s") % {
                "date": _fmt(facts.consequence_at), "objective": _label(rule.objective)}
        if cond == "broken_promises_at_least" and facts.last_broken_at and facts.broken_count >= max(rule.threshold, 1):
            text = _("Promise of %(date)s broken %(ago)s") % {"date": _fmt(facts.last_broken_due), "ago": _ago(now, facts.last_broken_at)}
            if facts.broken_count > 1:
                text += " " + _("(%(n)d broken)") % {"n": facts.broken_count}
            return rule, rule.objective, facts.last_broken_at, f"{text} → {_label(rule.objective)}"
        if cond == "refusal" and facts.last_refusal_at:
            return rule, rule.objective, facts.last_refusal_at, _("Refused to pay on %(date)s → %(objective)s") % {
                "date": _fmt(facts.last_refusal_at), "objective": _label(rule.objective)}
        if cond == "excuse_given" and facts.last_excuse_at:
            return rule, rule.objective, facts.last_excuse_at, _("Excuse given on %(date)s → %(objective)s") % {
                "date": _fmt(facts.last_excuse_at), "objective": _label(rule.objective)}
        if cond == "days_past_due_at_least" and dpd >= rule.threshold:
            anchor = max(_local_midnight(facts.due_date + dt.timedelta(days=rule.threshold), tz), facts.created_at)
            return rule, rule.objective, anchor, _("%(n)d days past due (%(min)d or more) → %(objective)s") % {
                "n": dpd, "min": rule.threshold, "objective": _label(rule.objective)}
        if cond == "always":
            if dpd == 0:
                situation = _("Not yet due")
            elif (now - facts.created_at).days < 7:
                situation = _("New case, %(n)d days past due") % {"n": dpd}
            else:
                situation = _("%(n)d days past due") % {"n": dpd}
            return rule, rule.objective, facts.created_at, f"{situation} → {_label(rule.objective)}"
    label = _label(Objective.REMIND)
    return None, Objective.REMIND, facts.created_at, _("No strategy rule matched → %(objective)s") % {"objective": label}


def _at_local(anchor: dt.datetime, days: int, send_time: dt.time, tz: dt.tzinfo) -> dt.datetime:
    day = anchor.astimezone(tz).date() + dt.timedelta(days=days)
    return dt.datetime.combine(day, send_time, tzinfo=tz).astimezone(dt.UTC)


def _cadence_step(facts: CaseFacts, strategy: Strategy, objective: str, anchor: dt.datetime, reason: str,
                  now: dt.datetime, tz: dt.tzinfo) -> PlannedStep:
    cadence = strategy.cadences.get(objective)
    if cadence is None or not cadence.steps:
        # No cadence configured: an agent reviews the case today rather than it being forgotten.
        return PlannedStep(CADENCE, objective, 0, Channel.PHONE, AGENT_TASK, now, anchor, reason,
                           instructions=_("No cadence is configured for this objective: review the case."))
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
        CADENCE, objective, index, step.channel, step.kind, max(due, now), anchor, reason,
        # Seeded instructions are in the catalogue; an admin's own text has no entry and stays as written.
        cadence_step_id=step.id, template_id=step.template_id, instructions=_(step.instructions) if step.instructions else "",
        is_consequence=step.is_consequence,
    )


def plan_case(facts: CaseFacts, strategy: Strategy, now: dt.datetime, *, language: str | None = None) -> Plan:
    _state.language = language or get_language()
    if facts.status in ("paid", "closed"):
        reason = _("Paid in full: case closed") if facts.status == "paid" else _("Case closed")
        return Plan("closed", None, reason)
    if facts.status in ("disputed", "on_hold"):
        reason = _("Dispute open: collection contact paused") if facts.status == "disputed" else _("On hold: collection contact paused")
        return Plan("paused", None, reason, next_action_note=reason)
    for flag, text in PAUSING_FLAGS.items():
        if flag in facts.debtor_flags:
            reason = _("%(flag)s: no collection contact") % {"flag": text}
            return Plan("paused", None, reason, next_action_note=reason)

    tz = _zone(facts.timezone)
    rule, objective, anchor, reason = choose_objective(facts, strategy, now)
    rule_id = rule.id if rule else None

    if facts.callback_at is not None:
        step = PlannedStep(CALLBACK, objective, 0, Channel.PHONE, AGENT_TASK, facts.callback_at, facts.callback_at,
                           _("Call-back agreed with the debtor"), instructions=facts.callback_note)
    elif facts.commitment is not None:
        c = facts.commitment
        commitment_anchor = _local_midnight(c.due_date, tz)
        remind_at = _at_local(commitment_anchor, -strategy.reminder_days_before, dt.time(10), tz)
        check_at = _local_midnight(c.due_date + dt.timedelta(days=strategy.grace_days + 1), tz)
        # Until the day itself; a promise made the day before gets its reminder at once.
        if now < commitment_anchor and commitment_anchor not in facts.reminded_anchors:
            step = PlannedStep(PROMISE_REMINDER, objective, 0, strategy.reminder_channel, AUTOMATIC, max(remind_at, now),
                               commitment_anchor, reason, template_id=strategy.reminder_template_id)
        else:
            # Nothing to send: the promise sweep checks the payment once the grace period ends.
            note = _("Check the payment due %(date)s") % {"date": _fmt(c.due_date)}
            return Plan("active", objective, reason, rule_id, None, check_at, note)
    else:
        step = _cadence_step(facts, strategy, objective, anchor, reason, now, tz)

    note = f"{_label(step.channel, Channel)} · {_label(step.objective)}"
    if step.instructions:
        note += f": {step.instructions}"
    return Plan("active", objective, reason, rule_id, step, step.due_at, note[:300])
