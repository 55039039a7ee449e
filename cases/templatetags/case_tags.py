"""Formatting for the agent workspace. No queries, no permissions."""

from __future__ import annotations

from django import template

from cases.choices import AGING_LABELS, Outcome, StatementKind

register = template.Library()

_OUTCOMES = dict(Outcome.choices)
_STATEMENTS = dict(StatementKind.choices)


@register.filter
def days_late(case, today) -> int:
    return case.days_past_due(today)


@register.filter
def aging(case, today) -> str:
    """The case's aging bucket as the dashboards name it ("1–30 days")."""
    code = case.aging_bucket(today)
    return str(AGING_LABELS.get(code, code))


@register.filter
def outcome_label(code: str) -> str:
    return str(_OUTCOMES.get(code, code or ""))


@register.filter
def statement_label(code: str) -> str:
    return str(_STATEMENTS.get(code, code or ""))
