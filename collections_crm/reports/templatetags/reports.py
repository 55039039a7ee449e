"""Formatting of dashboard cells by kind. No queries, no permissions."""

from __future__ import annotations

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.formats import number_format

from collections_crm.core.money import format_money

register = template.Library()


def _pct(value) -> str:
    return f"{number_format(value * 100, decimal_pos=1)} %"


@register.filter
def cell(value, kind: str) -> str:
    return cell_in(value, kind)


@register.simple_tag
def cell_in(value, kind: str, currency: str = "EUR") -> str:
    """A cell formatted by its kind; money in the slice's currency."""
    if value is None or value == "":
        return "—"
    if kind == "money":
        return format_money(value, currency)
    if kind == "int":
        return intcomma(value)
    if kind == "pct":
        return _pct(value)
    if kind == "interval":
        low, high = value
        return f"{number_format(low * 100, decimal_pos=1)}–{_pct(high)}"
    return str(value)


@register.filter
def get(mapping, key):
    return (mapping or {}).get(key)
