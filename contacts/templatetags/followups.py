"""Formatting for the follow-up fragments: contact-policy reason codes as words."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

from contacts.engine import policy

register = template.Library()

REASON_LABELS = {
    policy.CASE_CLOSED: _("case closed"),
    policy.CASE_PAUSED: _("case paused (dispute or hold)"),
    policy.CEASE: _("cease communication requested"),
    policy.DO_NOT_CONTACT: _("do not contact"),
    policy.ATTORNEY: _("represented by an attorney"),
    policy.DECEASED: _("deceased"),
    policy.BANKRUPTCY: _("in bankruptcy"),
    policy.POINT_OPTED_OUT: _("opted out on this channel"),
    policy.POINT_DO_NOT_CONTACT: _("this contact point must not be used"),
    policy.NO_CONSENT: _("no consent for automated messages"),
    policy.OUTSIDE_HOURS: _("outside contact hours"),
    policy.WEEKDAY: _("no contact on this weekday"),
    policy.HOLIDAY: _("public holiday"),
    policy.WEEKLY_CALL_CAP: _("weekly call limit reached"),
    policy.CONVERSATION_PAUSE: _("pause after a recent conversation"),
    policy.DAILY_CAP: _("daily contact limit reached"),
}


@register.filter
def policy_reason(code: str) -> str:
    return str(REASON_LABELS.get(code, code))
