"""Stored reasons and next steps (cases.reasons) as a reader sees them."""

from __future__ import annotations

from django.utils import translation

from cases.reasons import reason_text
from contacts.selectors import excuse_name


def said(value, language: str = "en") -> str:
    with translation.override(language):
        return reason_text(value, excuse_name=excuse_name)
