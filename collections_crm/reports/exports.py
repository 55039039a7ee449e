"""Tables to CSV and XLSX. Text that a spreadsheet would run as a formula is neutralised."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal

from django.utils.encoding import force_str
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from cases.choices import Objective, PromiseStatus

from .metrics import BUCKET_LABELS, neutralise_cell
from .selectors import REFUSAL_REASONS
from .tables import Table

MAX_EXPORT_ROWS = 100_000


# Money with its two decimals, ratios (0.2857 = 28.57 %) to four decimals: the same values in
# CSV and XLSX. An XLSX keeps them as numbers, shown with these formats.
CENT = Decimal("0.01")
RATIO = Decimal("0.0001")
XLSX_FORMATS = {"money": "#,##0.00", "pct": "0.0%", "int": "#,##0"}


def _number(value, kind: str):
    """A figure as the export writes it: money rounded to the cent, a ratio to four decimals
    (half up, as people round), counts as they are. None stays empty."""
    if value is None or isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        return value
    if kind == "money":
        return Decimal(str(value)).quantize(CENT, ROUND_HALF_UP)
    if kind in ("pct", "interval"):
        return Decimal(str(value)).quantize(RATIO, ROUND_HALF_UP)
    return value


def _flatten(table: Table) -> tuple[list[str], list[str], list[list]]:
    """Header, the kind of each output column and the rows as plain values: an interval becomes
    two ratio columns, labels become text, figures are rounded (_number)."""
    header: list[str] = []
    kinds: list[str] = []
    for column in table.columns:
        if column.kind == "interval":
            header += [f"{force_str(column.label)} ({_('low')})", f"{force_str(column.label)} ({_('high')})"]
            kinds += ["pct", "pct"]
        else:
            header.append(force_str(column.label))
            kinds.append(column.kind)
    rows = []
    for row in table.rows:
        values: list = []
        for column in table.columns:
            value = row.get(column.key)
            if column.kind == "interval":
                values += [_number(v, "pct") for v in value] if value else [None, None]
            elif isinstance(value, Decimal | int | float) or value is None:
                values.append(_number(value, column.kind))
            else:
                values.append(force_str(value))
        rows.append([neutralise_cell(v) for v in values])
    return [neutralise_cell(h) for h in header], kinds, rows


def render_table(table: Table, fmt: str) -> tuple[bytes, str]:
    header, kinds, rows = _flatten(table)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        # The BOM makes Excel read the file as UTF-8 (accents in Spanish names).
        return ("\ufeff" + buffer.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=force_str(table.name)[:31])
    sheet.append(header)
    formats = [XLSX_FORMATS.get(kind) for kind in kinds]
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value, number_format) for value, number_format in zip(row, formats, strict=True)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx_cell(sheet, value, number_format: str | None):
    """A number stays a number cell (never text), with the column's number format."""
    if not isinstance(value, Decimal | int | float) or isinstance(value, bool):
        return value
    cell = WriteOnlyCell(sheet, value=float(value) if isinstance(value, Decimal) else value)
    if number_format:
        cell.number_format = number_format
    return cell


def drill_title(data: dict) -> str:
    kind = data["kind"]
    titles = {
        "open": _("Open cases"), "placed": _("Cases placed in the period"), "collected": _("Cases with payments in the period"),
        "promises": _("Cases with promises made in the period"), "attempts": _("Cases worked in the period"),
        "no_next_step": _("Cases without a next step"), "overdue": _("Cases with an overdue follow-up"),
        "technique": _("Cases where the technique was used"), "roll": _("Cases open at the month end"),
        "moves": _("Cases that changed objective"), "refusals": _("Cases with contacts refused by the policy"),
    }
    parts = [titles[kind]]
    params = data["params"]
    if params.get("bucket"):
        parts.append(force_str(BUCKET_LABELS[params["bucket"]]))
    if data.get("objective"):
        parts.append(force_str(Objective(data["objective"]).label))
    if data.get("status"):
        parts.append(force_str(PromiseStatus(data["status"]).label))
    for key in ("technique", "excuse"):
        if data.get(key):
            parts.append(data[key].name)
    if params.get("reason"):
        parts.append(force_str(REFUSAL_REASONS.get(params["reason"], params["reason"])))
    if kind == "roll" and params.get("to"):
        parts.append("→ " + force_str(BUCKET_LABELS[params["to"]]))
    return " · ".join(parts)
