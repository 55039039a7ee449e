"""Formatting only: money, masked identifiers, dates in a zone. No queries, no permissions."""

from __future__ import annotations

from django import template

from collections_crm.core.money import currency_symbol, format_money

register = template.Library()


@register.filter(name="currency_symbol")
def currency_symbol_filter(currency: str) -> str:
    return currency_symbol(currency)


@register.filter
def money(value, currency: str = "EUR") -> str:
    return format_money(value, currency)


@register.filter
def masked(value: str, visible: int = 3) -> str:
    """Show only the last characters of an identity document or account number."""
    value = str(value or "")
    if len(value) <= visible:
        return value
    return "•" * (len(value) - visible) + value[-visible:]
