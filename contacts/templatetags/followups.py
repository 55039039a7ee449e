"""Formatting for the follow-up fragments: reasons (engine codes, people's words), follow-up
results and contact-policy reason codes, in the reader's language."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext

from cases.reasons import WHY, reason_text, result_text
from contacts.selectors import excuse_name

register = template.Library()


@register.filter
def policy_reason(code: str) -> str:
    return str(WHY.get(code, code))


@register.filter
def reason(value) -> str:
    """A stored reason or next step (cases.reasons) in the active language."""
    return reason_text(value, excuse_name=excuse_name)


@register.filter
def followup_result(value: str) -> str:
    """A follow-up's result (cases.reasons.result_text)."""
    return result_text(value)


@register.filter
def instructions(value: str) -> str:
    """A cadence step's instructions: a seeded text is translated, an admin's own shown as written."""
    return gettext(value) if value else ""
