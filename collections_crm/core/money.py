"""Money as people read it: "1.234,50 €" in Spanish, "1,234.50 €" in English (the active
language's format). Used by template filters, services writing texts and exports alike."""

from __future__ import annotations

from decimal import Decimal

from django.utils.formats import number_format

SYMBOLS = {"EUR": "€", "USD": "$", "MXN": "MX$", "GBP": "£"}


def currency_symbol(currency: str) -> str:
    return SYMBOLS.get(currency or "EUR", currency)


def format_amount(value) -> str:
    """An amount without its currency: two decimals and the thousand separator of the active
    language ("1\xa0234,50" in Spanish, "1,234.50" in English)."""
    if value in (None, ""):
        return "—"
    return number_format(Decimal(value), decimal_pos=2, use_l10n=True, force_grouping=True)


def format_money(value, currency: str = "EUR") -> str:
    if value in (None, ""):
        return "—"
    return f"{format_amount(value)} {currency_symbol(currency)}"
