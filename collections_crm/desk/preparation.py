"""Talking points for the next contact (seed 004: "leave nothing to chance"). A pure function
of facts the page already loaded: no queries, no clock."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.choices import Objective
from collections_crm.core.money import format_money

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# What each objective asks of the agent (seed 001), said as a first talking point.
OBJECTIVE_OPENERS: dict[str, StrOrPromise] = {
    Objective.REMIND: gettext_lazy("Be cordial, clear and direct: remind the debtor of the amount and the due date."),
    Objective.REMOVE_BARRIERS: gettext_lazy("Give the debtor what they say they need to pay, then agree a payment date."),
    Objective.GET_COMMITMENT: gettext_lazy("Get a concrete commitment: an amount and a date, and say you will follow it."),
    Objective.PRESSURE: gettext_lazy("State the consequence calmly and lawfully (escalation, suspension); never coerce."),
    Objective.CHANGE_TERMS: gettext_lazy("Explain the new conditions that now apply and what the debtor can do next."),
}


def talking_points(
    *, objective: str, currency: str = "EUR", broken_promises: list, pending_promise, open_barriers: list, last_statement, plan, today: dt.date
) -> list[str]:
    points = [str(OBJECTIVE_OPENERS.get(objective, ""))]
    if broken_promises:
        last = broken_promises[0]
        points.append(
            _("The promise of %(amount)s for %(date)s was broken: ask when it will be paid, not whether.")
            % {"amount": format_money(last.amount, currency), "date": date_format(last.due_date, "SHORT_DATE_FORMAT")}
        )
    if pending_promise is not None:
        days = (pending_promise.due_date - today).days
        if days >= 0:
            points.append(
                _("A promise of %(amount)s is due in %(days)d day(s): confirm it, do not renegotiate it.")
                % {"amount": format_money(pending_promise.amount, currency), "days": days}
            )
    for barrier in open_barriers:
        points.append(_("Open barrier: %(what)s. Say when it will be sent and ask for the payment date.") % {
            "what": barrier.get_kind_display()})
    if last_statement is not None:
        if last_statement.statement_kind == "excuse":
            points.append(_("Last time it was an excuse (%(what)s): answer with payment options, not with time.") % {
                "what": last_statement.excuse_category.name if last_statement.excuse_category else _("unspecified")})
        elif last_statement.statement_kind == "argument":
            points.append(_("Last time it was an argument (%(what)s): check it has been dealt with.") % {
                "what": last_statement.excuse_category.name if last_statement.excuse_category else _("unspecified")})
    if plan is not None:
        points.append(_("There is a payment plan (%(n)d instalments): check the next instalment is on track.") % {
            "n": plan.instalment_count})
    return [p for p in points if p]
