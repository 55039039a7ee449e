"""The per-file compiled portfolio validator gives exactly what portfolio_row gives (values and
error messages), on messy values drawn at random from the shapes real files contain. No database."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import translation

from collections_crm.imports.loader import copy_line
from collections_crm.imports.rows import RowContext, compile_portfolio_row, portfolio_row
from debtors.validators import cif_for, dni_for

HEADERS = ["ref", "doc", "tipo", "nombre", "clase", "pais", "tel", "tel2", "mail", "importe", "gastos", "saldo", "moneda", "vto", "cesion",
           "direccion", "acreedor", "gestor", "cp", "nacimiento"]
TARGETS = ["reference", "document_number", "document_type", "name", "kind", "country", "phone", "phone_other", "email",
           "original_amount", "fees", "balance", "currency", "due_date", "placed_at", "address", "creditor", "agent",
           "postal_code", "birth_date"]

VALUES = {
    "reference": ["EXP-1", " EXP-2 ", "", "A" * 65, "R\tX", "Ref  con   espacios", "back\\slash"],
    "document_number": [dni_for(12345678), dni_for(1), dni_for(12345678)[:-1] + "A", "x1234567l", cif_for("B", 1234567),
                        "12.345.678-Z", "", "---", "١٢٣٤٥٦٧٨Z", "AB12", "P" * 41, "PASS123", dni_for(1234567)[1:], "1234567A", dni_for(42)[6:]],
    "document_type": ["", "DNI", "nif", "Pasaporte", "cif", "otro", "raro", "  N.I.E. "],
    "name": ["José Pérez", "", "  María   Muñoz ", "N" * 201, "Tab\tName"],
    "kind": ["", "Persona física", "empresa", "J", "alien"],
    "country": ["", "es", "MX", "Spain", "g b", "1X"],
    "phone": ["", "612 345 678", "+34 712-34-56-78", "0034 912 345 678", "12", "+1 212 555 0100", "abc", "612345678 / 912345678"],
    "phone_other": ["", "912 345 678", "612 345 678", "12", "612345678.0"],
    "email": ["", "Ana@Example.com ", "ana@example", "a b@c.com", "x@y.es"],
    "original_amount": ["1.234,56", "1,234.56", "500", "0", "-5", "abc", "", "1.000.000.000.000,00", "12,345", "€ 1 234,56", "10,5", "1,234,567.8", "(100,00)", "-"],
    "fees": ["", "10,00", "0", "-1", "x", "1.5", "-", "- €", "5,00-"],
    "balance": ["100", "", "99999999", "0,00", "abc", "1.234,56"],
    "currency": ["", "eur", "USD", "EURO", "€"],
    "due_date": ["31/01/2025", "2025-06-30", "15.03.25", "", "31/02/2025", "1/2/2024", "2025-1-5 10:00", "soon", "05-mar-2024", "45000", "1 de dic de 2023"],
    "placed_at": ["", "01/01/2024", "bad"],
    "address": ["", "Calle Mayor 1, 28013 Madrid", "  C/ Luna  3 ", "x" * 301],
    "creditor": ["", "Banco Sol", "BANCO  SOL", "bsol", "Caja Norte", "Desconocido", "—", "Ñ" * 201],
    "agent": ["", "ana", " Ana López ", "nobody", "—", "a" * 201],
    "postal_code": ["28013", "", "8001", " sw1a 1aa ", "1" * 13, "28013.0"],
    "birth_date": ["05/03/1985", "", "1985-03-05", "05/03/65", "01/01/2030", "soon", "31/02/1980", "1/1/1899"],
}
CREDITORS = {"banco sol": (7, "EUR"), "bsol": (7, "EUR"), "caja norte": (9, "USD")}
AGENTS = {"ana": 3, "ana lopez": 3}


def contexts():
    full = {t: i for i, t in enumerate(TARGETS)}
    minimal = {t: full[t] for t in ("reference", "document_number", "name", "original_amount", "due_date")}
    balance_only = {t: full[t] for t in ("reference", "document_number", "name", "balance", "fees", "due_date", "creditor")}
    for columns in (full, minimal, balance_only):
        for decimal_comma in (True, False):
            for day_first in (True, False):
                yield columns, decimal_comma, day_first


@pytest.mark.parametrize(("columns", "decimal_comma", "day_first"), list(contexts()))
def test_compiled_validator_matches_portfolio_row(columns, decimal_comma, day_first):
    rng = random.Random(f"{len(columns)}{decimal_comma}{day_first}")

    def ctx():
        return RowContext(kind="portfolio", columns=columns, headers=HEADERS, decimal_comma=decimal_comma, day_first=day_first,
                          currency="EUR", today=dt.date(2025, 3, 1), creditor_id=1, creditors=CREDITORS, agents=AGENTS,
                          create_creditors=day_first)

    fast_ctx, slow_ctx = ctx(), ctx()
    fast = compile_portfolio_row(fast_ctx)
    accepted = 0
    with translation.override("en"):
        for _ in range(4000):
            # Mostly good rows (the fast path's business), each with a fair chance of one odd value.
            cells = [VALUES[t][0] if rng.random() < 0.8 else rng.choice(VALUES[t]) for t in TARGETS]
            if rng.random() < 0.05:
                cells = cells[: rng.randrange(len(cells))]  # a short line
            expected = portfolio_row(slow_ctx, list(cells))
            got = fast(list(cells))
            assert repr(got) == repr(expected), cells  # repr: Decimal("1.0") == Decimal("1.00"), but they stage differently
            if expected is None:
                assert fast_ctx.errors == slow_ctx.errors, cells
            else:
                assert list(fast_ctx.warnings) == slow_ctx.warnings, cells
                accepted += 1
    assert accepted > 100  # the comparison covered the accepting path, not only the rejections


def test_copy_lines_escape_what_copy_needs_and_nothing_else():
    assert copy_line((1, "a", dt.date(2025, 1, 2))) == "1\ta\t2025-01-02\n"
    assert copy_line((2, "back\\slash", None, "None")) == "2\tback\\\\slash\t\\N\tNone\n"
    assert copy_line((3, "tab\there", "new\nline\r")) == "3\ttab\\there\tnew\\nline\\r\n"
