"""Bulk writes for the portfolio replan: COPY on PostgreSQL, the ORM elsewhere.

``bulk_create`` spends more time in Python (preparing every value of every field) than the
database spends inserting; COPY sends the rows as text in one stream. Only for plain rows built
by the engine itself (no signals, no ``save()`` logic exists on these models)."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence

from django.db import connection

# Below this many rows the ordinary statements are as fast and simpler to read in logs.
COPY_MIN_ROWS = 200

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value).translate(_ESCAPES)
    return str(value).translate(_ESCAPES)


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """COPY ``rows`` (tuples in ``columns`` order) into ``table`` (PostgreSQL only)."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(map(_text, row)))
        buffer.write("\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def use_copy(n: int) -> bool:
    return connection.vendor == "postgresql" and n >= COPY_MIN_ROWS
