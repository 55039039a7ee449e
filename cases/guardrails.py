"""Payment-plan guardrails as a pure decision: what an agent may agree alone and why a plan
needs a supervisor. No ORM and no clock inside; the caller passes the limits and ``today``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from collections_crm.core.dates import add_months
from collections_crm.core.money import format_money

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Limits:
    min_instalment: Decimal
    max_instalments: int
    max_term_months: int
    max_discount_percent: Decimal

    @classmethod
    def from_model(cls, row) -> Limits:
        return cls(row.min_instalment, row.max_instalments, row.max_term_months, row.max_discount_percent)


def last_instalment_date(*, first_due_date: dt.date, instalment_count: int, frequency: str) -> dt.date:
    steps = max(instalment_count - 1, 0)
    if frequency == "weekly":
        return first_due_date + dt.timedelta(weeks=steps)
    if frequency == "biweekly":
        return first_due_date + dt.timedelta(weeks=2 * steps)
    return add_months(first_due_date, steps)


def plan_needs_approval(
    *,
    limits: Limits,
    balance: Decimal,
    total_amount: Decimal,
    discount_amount: Decimal,
    instalment_count: int,
    frequency: str,
    first_due_date: dt.date,
    today: dt.date,
    currency: str = "EUR",
) -> list[str]:
    """Reasons why a proposed plan exceeds what an agent may grant; an empty list means the
    agent may agree it alone. ``total_amount`` is what the debtor will pay after the discount."""
    reasons: list[str] = []
    if instalment_count > limits.max_instalments:
        reasons.append(_("%(n)d instalments exceed the maximum of %(max)d.") % {"n": instalment_count, "max": limits.max_instalments})
    # A single payment of everything is always acceptable, however small.
    instalment = (total_amount / max(instalment_count, 1)).quantize(CENT, ROUND_HALF_UP)
    if instalment_count > 1 and instalment < limits.min_instalment:
        reasons.append(_("Instalments of %(amount)s are below the minimum of %(min)s.") % {"amount": format_money(instalment, currency), "min": format_money(limits.min_instalment, currency)})
    last = last_instalment_date(first_due_date=first_due_date, instalment_count=instalment_count, frequency=frequency)
    if last > add_months(today, limits.max_term_months):
        reasons.append(_("The plan ends on %(day)s, beyond the maximum term of %(months)d months.") % {"day": date_format(last, "SHORT_DATE_FORMAT"), "months": limits.max_term_months})
    if balance > 0 and discount_amount > 0:
        percent = (discount_amount * 100 / balance).quantize(CENT, ROUND_HALF_UP)
        if percent > limits.max_discount_percent:
            reasons.append(_("A discount of %(p)s%% exceeds the %(max)s%% an agent may grant.") % {"p": number_format(percent, 2, use_l10n=True), "max": number_format(limits.max_discount_percent, 2, use_l10n=True)})
    return reasons
