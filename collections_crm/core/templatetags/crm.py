"""Formatting only: money, masked identifiers, dates in a zone. No queries, no permissions."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from django import template
from django.utils.formats import number_format

register = template.Library()

_SYMBOLS = {"EUR": "€", "USD": "$", "MXN": "MX$", "GBP": "£"}


@register.filter
def currency_symbol(currency: str) -> str:
    return _SYMBOLS.get(currency or "EUR", currency)


@register.filter
def money(value, currency: str = "EUR") -> str:
    if value in (None, ""):
        return "—"
    amount = number_format(Decimal(value), decimal_pos=2, use_l10n=True, force_grouping=True)
    symbol = _SYMBOLS.get(currency or "EUR", currency)
    return f"{amount} {symbol}"


@register.filter
def masked(value: str, visible: int = 3) -> str:
    """Show only the last characters of an identity document or account number."""
    value = str(value or "")
    if len(value) <= visible:
        return value
    return "•" * (len(value) - visible) + value[-visible:]


@register.filter
def in_zone(value, zone: str):
    """The aware datetime shown in another time zone (the debtor's)."""
    if value is None:
        return None
    try:
        return value.astimezone(zoneinfo.ZoneInfo(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return value
