"""Reasons as data: why a case has its objective, why its next step is when it is, and what that
step is, stored as a code plus parameters and put into words only when someone reads them, in
the reader's language, with the reader's date and money formats.

A reason is a plain dict (what the JSON columns hold):

- ``{"code": "excuse", "params": {"excuse": "forgot", "date": "2026-12-02", "objective": "get_commitment"}}``,
  written by the engine (``reason(code, **params)``);
- ``{"text": "Call after the 15th"}``, typed by a person, shown as typed;
- ``{}``: nothing recorded.

Parameters are JSON values whose NAME says how they are shown: ``date``/``*_date`` an ISO date,
``amount`` a decimal string in ``currency``, ``objective``/``channel``/``outcome``/``kind``/``why``
codes of the domain's choices, ``excuse`` an excuse category's code, ``instructions`` a cadence
step's text (a seeded one is translated, an admin's own shown as written), ``n``/``min``/``days``
numbers. ``reason_text`` renders one; the template filter ``reason`` (contacts.templatetags.followups)
calls it. The engine (contacts.engine.planner) writes most of them; the case services write a few
(a new case's first contact, a step an agent scheduled). Building a reason touches no translation,
so planning a million cases costs no gettext at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.utils import formats
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from collections_crm.core.money import format_money

from .choices import BarrierKind, Channel, Objective, Outcome

Reason = dict[str, Any]

# The sentences, by code. "→" separates the fact from the objective it leads to.
MESSAGES: dict[str, Any] = {
    # Closed and paused
    "paid": gettext_lazy("Paid in full: case closed"),
    "closed": gettext_lazy("Case closed"),
    "paused": gettext_lazy("Paused: %(why)s"),
    # The rules' facts
    "barrier_open": gettext_lazy("Payment barrier open since %(date)s (%(kind)s) → %(objective)s"),
    "barrier_excuse": gettext_lazy("Excuse: «%(excuse)s» on %(date)s, a payment barrier → %(objective)s"),
    "commitment_pending": gettext_lazy("%(what)s of %(amount)s due %(date)s → %(objective)s (reminder the day before, check after)"),
    "consequence": gettext_lazy("Consequence applied on %(date)s → %(objective)s"),
    "broken": gettext_lazy("Promise of %(due_date)s broken on %(date)s → %(objective)s"),
    "broken_many": gettext_lazy("Promise of %(due_date)s broken on %(date)s (%(n)s broken) → %(objective)s"),
    "refusal": gettext_lazy("Refused to pay on %(date)s → %(objective)s"),
    "refusal_excuse": gettext_lazy("«%(excuse)s» on %(date)s → %(objective)s"),
    "excuses_repeated": gettext_lazy("%(n)s excuses in %(days)s days, the last «%(excuse)s» on %(date)s → %(objective)s"),
    "excuses_repeated_plain": gettext_lazy("%(n)s excuses in %(days)s days, the last on %(date)s → %(objective)s"),
    "argument": gettext_lazy("Argument: «%(excuse)s» on %(date)s, cannot pay now → %(objective)s"),
    "argument_plain": gettext_lazy("Argument on %(date)s: cannot pay now → %(objective)s"),
    "partial_payment": gettext_lazy("Paid %(amount)s on %(date)s with no agreement for the rest → %(objective)s"),
    "acknowledged": gettext_lazy("Acknowledged the debt on %(date)s without a date to pay → %(objective)s"),
    "excuse": gettext_lazy("Excuse: «%(excuse)s» on %(date)s → %(objective)s"),
    "excuse_plain": gettext_lazy("Excuse given on %(date)s → %(objective)s"),
    "balance_at_least": gettext_lazy("Balance of %(amount)s (%(min_amount)s or more), %(n)s days past due → %(objective)s"),
    "no_contact_since": gettext_lazy("No contact since %(date)s (%(n)s days) → %(objective)s"),
    "never_contacted": gettext_lazy("Never contacted, %(n)s days past due → %(objective)s"),
    "days_past_due": gettext_lazy("%(n)s days past due (%(min)s or more) → %(objective)s"),
    "not_yet_due": gettext_lazy("Not yet due → %(objective)s"),
    "new_case": gettext_lazy("New case, %(n)s days past due → %(objective)s"),
    "overdue": gettext_lazy("%(n)s days past due → %(objective)s"),
    "contacted": gettext_lazy("Last contact on %(date)s (%(outcome)s), %(n)s days past due → %(objective)s"),
    "no_rule": gettext_lazy("No strategy rule matched → %(objective)s"),
    # Steps and next actions
    "callback": gettext_lazy("Call-back agreed with the debtor for %(date)s"),
    "step": pgettext_lazy("next action", "%(channel)s · %(objective)s"),
    "step_instructions": pgettext_lazy("next action", "%(channel)s · %(objective)s: %(instructions)s"),
    "check_payment": gettext_lazy("Check the payment due %(date)s"),
    "no_cadence": gettext_lazy("No cadence is configured for this objective: review the case."),
    "first_contact": gettext_lazy("New case: first contact"),
    "agreed": gettext_lazy("Follow-up agreed with the debtor"),
    "scheduled_by_agent": gettext_lazy("Follow-up scheduled by the agent"),
    "review_dispute": gettext_lazy("The debtor disputes the debt: review it and answer them"),
    # Why the step is when it is (appended to a next action the contact policy moved)
    "moved": gettext_lazy("%(text)s — first allowed time in the debtor's zone (%(why)s)"),
}

# Why a case is paused (its status or a debtor flag), and why the contact policy moved or refused
# a step: the contact policy's reason codes (contacts.engine.policy; a test checks every code has
# its words here).
WHY = {
    "case_closed": gettext_lazy("case closed"),
    "case_paused": gettext_lazy("case paused (dispute or hold)"),
    "disputed": gettext_lazy("dispute open"),
    "on_hold": gettext_lazy("case on hold"),
    "cease_communication": gettext_lazy("cease communication requested"),
    "do_not_contact": gettext_lazy("do not contact"),
    "attorney_represented": gettext_lazy("represented by an attorney"),
    "deceased": gettext_lazy("deceased"),
    "bankruptcy": gettext_lazy("in bankruptcy"),
    "point_opted_out": gettext_lazy("opted out on this channel"),
    "point_do_not_contact": gettext_lazy("this contact point must not be used"),
    "point_unusable": gettext_lazy("not a valid number or address"),
    "no_consent": gettext_lazy("no consent for automated messages"),
    "outside_hours": gettext_lazy("outside contact hours"),
    "weekday_not_allowed": gettext_lazy("no contact on this weekday"),
    "holiday": gettext_lazy("public holiday"),
    "weekly_call_cap": gettext_lazy("weekly call limit reached"),
    "conversation_pause": gettext_lazy("pause after a recent conversation"),
    "daily_cap": gettext_lazy("daily contact limit reached"),
    "preferred_time": gettext_lazy("outside the debtor's preferred time for calls"),
}

WHAT = {"promise": gettext_lazy("Promise"), "instalment": gettext_lazy("Instalment")}


def reason(code: str, **params: Any) -> Reason:
    return {"code": code, "params": params} if params else {"code": code}


def text(value: str) -> Reason:
    """A person's own words."""
    return {"text": value} if value else {}


def iso(day: dt.date | dt.datetime | None, tz: dt.tzinfo | None = None) -> str | None:
    """A date parameter: a moment as its date in the debtor's zone."""
    if day is None:
        return None
    if isinstance(day, dt.datetime):
        day = day.astimezone(tz or dt.UTC).date()
    return day.isoformat()


def money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def moved(note: Reason, why: str) -> Reason:
    """A next action moved by the contact policy: the note, then why its time is what it is."""
    return {**note, "moved": why}


def _date(value: str) -> str:
    try:
        return formats.date_format(dt.date.fromisoformat(value), "SHORT_DATE_FORMAT")
    except (TypeError, ValueError):
        return str(value)


def _choice(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _instructions(value: str) -> str:
    # A seeded step's text is in the catalogue; an admin's own text has no entry and stays as written.
    return gettext(value) if value else ""


def _param(name: str, value: Any, params: Mapping[str, Any], excuse_name: Callable[[str], str]) -> str:
    if value is None:
        return ""
    if name == "date" or name.endswith("_date"):
        return _date(value)
    if name in ("amount", "min_amount"):
        return format_money(Decimal(str(value)), params.get("currency") or "EUR")
    if name == "objective":
        return _choice(Objective, value)
    if name == "channel":
        return _choice(Channel, value)
    if name == "outcome":
        return _choice(Outcome, value)
    if name == "kind":
        return _choice(BarrierKind, value)
    if name == "why":
        return str(WHY.get(value, value))
    if name == "what":
        return str(WHAT.get(value, value))
    if name == "excuse":
        return excuse_name(value)
    if name == "instructions":
        return _instructions(value)
    if isinstance(value, int | float):
        return formats.number_format(value)
    return str(value)


def result_text(value: str) -> str:
    """A follow-up's result: a contact-policy or pause code in words, the engine's own words
    (stored untranslated) translated, a person's text as written."""
    if not value:
        return ""
    return str(WHY[value]) if value in WHY else gettext(value)


def reason_text(value: Reason | str | None, *, excuse_name: Callable[[str], str] = str) -> str:
    """The reason in the active language ("" when there is none). ``excuse_name`` maps an excuse
    category's code to its name in that language."""
    if not value:
        return ""
    if isinstance(value, str):  # a person's words given as a bare string
        return value
    if "text" in value:
        rendered = str(value["text"])
    else:
        message = MESSAGES.get(value.get("code", ""))
        if message is None:
            return str(value.get("code", ""))
        params = value.get("params") or {}
        rendered = str(message) % {k: _param(k, v, params, excuse_name) for k, v in params.items()} if params else str(message)
    if value.get("moved"):
        rendered = str(MESSAGES["moved"]) % {"text": rendered, "why": WHY.get(value["moved"], value["moved"])}
    return rendered
