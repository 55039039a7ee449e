"""CSV and XLSX exports write figures as people read them (#19): money to the cent, ratios to
four decimals; an XLSX keeps numbers as number cells with money, percent and count formats."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import load_workbook

from collections_crm.reports.exports import render_table
from collections_crm.reports.tables import Column, Table


def _table() -> Table:
    return Table("summary", "Portfolio", [
        Column("figure", "Figure"), Column("value", "Value", "money"), Column("count", "Cases", "int"),
        Column("rate", "Rate", "pct"), Column("rate_ci", "95 % interval", "interval"),
    ], [
        {"figure": "Outstanding", "value": Decimal("1050408.02000000"), "count": 7, "rate": 0.2857142857142857,
         "rate_ci": (0.08219915755418336, 0.6410805430372547)},
        {"figure": "=cmd", "value": Decimal("0E-8"), "count": 0, "rate": None, "rate_ci": None},
        {"figure": "Half", "value": 1.005, "count": 1, "rate": Decimal("0.12345"), "rate_ci": None},
    ])


def test_csv_writes_money_with_two_decimals_and_ratios_rounded():
    content, content_type = render_table(_table(), "csv")
    assert content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ["Figure", "Value", "Cases", "Rate", "95 % interval (low)", "95 % interval (high)"]
    assert rows[1] == ["Outstanding", "1050408.02", "7", "0.2857", "0.0822", "0.6411"]
    assert rows[2] == ["'=cmd", "0.00", "0", "", "", ""]
    assert rows[3] == ["Half", "1.01", "1", "0.1235", "", ""]  # half up, from the decimal written, not the float's binary


def test_xlsx_keeps_number_cells_with_number_formats():
    content, _type = render_table(_table(), "xlsx")
    sheet = load_workbook(io.BytesIO(content)).active
    first = list(sheet.iter_rows(min_row=2, max_row=2))[0]
    figure, value, count, rate, low, high = first
    assert figure.value == "Outstanding" and figure.data_type == "s"
    assert value.value == 1050408.02 and value.data_type == "n" and value.number_format == "#,##0.00"
    assert count.value == 7 and count.data_type == "n" and count.number_format == "#,##0"
    assert rate.value == 0.2857 and rate.data_type == "n" and rate.number_format == "0.0%"
    assert (low.value, high.value) == (0.0822, 0.6411) and low.number_format == high.number_format == "0.0%"
    empty = list(sheet.iter_rows(min_row=3, max_row=3))[0]
    assert empty[1].value == 0 and empty[1].number_format == "#,##0.00" and empty[3].value is None
