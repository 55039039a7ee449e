"""Admin-written message templates, rendered safely.

The template language is deliberately tiny: text with ``{{ placeholder }}`` slots from a fixed,
documented set. No expressions, filters, attribute access or tags exist, so an admin-written
template can never reach settings, the database or Python internals; values are plain strings
computed by the code below. Anything that looks like template syntax but is not a known
placeholder is refused on save.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Placeholders whose value is a new personal link (issued only when a message uses one).
LINK_PLACEHOLDERS = frozenset({"payment_link", "portal_code"})

PLACEHOLDER_RE = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
# Any other brace or Django/Jinja tag syntax is an error, not literal text.
SUSPICIOUS_RE = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")

PLACEHOLDERS: dict[str, StrOrPromise] = {
    "debtor_name": _("Debtor's name (person or company)"),
    "amount_due": _("Balance due, formatted with currency"),
    "original_amount": _("Original amount of the debt"),
    "due_date": _("Due date of the debt"),
    "days_past_due": _("Days past due"),
    "creditor_name": _("Creditor's name"),
    "case_reference": _("Case reference"),
    "agent_name": _("Assigned agent's name"),
    "company_name": _("Our company's name"),
    "payment_link": _("The debtor's personal link to pay, promise, plan or dispute online"),
    "portal_code": _("The personal link's short code, to type on the portal's first page (letters)"),
    "promise_amount": _("Amount of the pending promise"),
    "promise_date": _("Date of the pending promise"),
    "opt_out_text": _("How to stop receiving these messages (required in e-mail and SMS)"),
}

# Channels whose templates must carry the opt-out line.
OPT_OUT_REQUIRED = {"email", "sms"}


@dataclass(frozen=True)
class TemplateProblem:
    field: str
    message: str


def validate_template(*, channel: str, subject: str, body: str) -> list[TemplateProblem]:
    problems: list[TemplateProblem] = []
    for field, text in (("subject", subject), ("body", body)):
        for name in PLACEHOLDER_RE.findall(text or ""):
            if name not in PLACEHOLDERS:
                problems.append(TemplateProblem(field, str(_("Unknown placeholder: {{ %(name)s }}.")) % {"name": name}))
        leftover = PLACEHOLDER_RE.sub("", text or "")
        if SUSPICIOUS_RE.search(leftover):
            problems.append(
                TemplateProblem(field, str(_("Only simple placeholders such as {{ debtor_name }} are allowed.")))
            )
    if not (body or "").strip():
        problems.append(TemplateProblem("body", str(_("The message body is empty."))))
    if channel == "email" and not (subject or "").strip():
        problems.append(TemplateProblem("subject", str(_("An e-mail needs a subject."))))
    if channel in OPT_OUT_REQUIRED and "opt_out_text" not in PLACEHOLDER_RE.findall(body or ""):
        problems.append(TemplateProblem("body", str(_("E-mail and SMS templates must include {{ opt_out_text }}."))))
    return problems


def render_text(text: str, values: dict[str, str], *, html: bool = False) -> str:
    """Substitute known placeholders; values are escaped when rendering into HTML."""

    def sub(match: re.Match) -> str:
        value = str(values.get(match.group(1), ""))
        return escape(value) if html else value

    return PLACEHOLDER_RE.sub(sub, text or "")


def sms_segments(text: str) -> tuple[int, int]:
    """(characters, segments) for an SMS: GSM-7 fits 160/153 per segment, UCS-2 70/67."""
    gsm = set(
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
        "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
    )
    length = len(text)
    if all(ch in gsm for ch in text):
        single, multi = 160, 153
    else:
        single, multi = 70, 67
    if length <= single:
        return length, 1 if length else 0
    return length, -(-length // multi)
