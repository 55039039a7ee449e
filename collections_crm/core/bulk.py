"""Bulk writes (the portfolio replan, imports): COPY on PostgreSQL, the ORM elsewhere.

``bulk_create`` spends more time in Python (preparing every value of every field) than the
database spends inserting; COPY sends the rows as text in one stream. Only for plain rows built
by the code itself (no signals, no ``save()`` logic exists on these models)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction

# Below this many rows the ordinary statements are as fast and simpler to read in logs.
COPY_MIN_ROWS = 200


def copy_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence], *, null_columns: Sequence[str] = ()) -> None:
    """COPY ``rows`` (tuples in ``columns`` order) into ``table`` (PostgreSQL only).

    CSV written by the C csv module: every value but numbers is quoted, so an empty string
    stays an empty string; ``None`` (written as ``""``) becomes NULL in the ``null_columns``
    (nullable non-text columns). dicts must be passed already serialised (json.dumps)."""
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    force_null = f", FORCE_NULL ({', '.join(null_columns)})" if null_columns else ""
    with connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv{force_null})", buffer)


def use_copy(n: int) -> bool:
    return connection.vendor == "postgresql" and n >= COPY_MIN_ROWS


@contextmanager
def foreign_key_checks_skipped():
    """Inside a transaction: rows written in the block skip PostgreSQL's per-row foreign-key
    triggers (``session_replication_role = replica``, for this transaction only, restored on
    leaving the block). The checks are about half the cost of a bulk insert; the caller must
    know every referenced row exists and cannot vanish before the commit (it joined or locked
    them itself). Needs a superuser (the docker-compose database user is one); without that
    right the checks simply stay on. Other triggers are skipped too: only for tables that have
    none that matter on insert. Yields whether the checks are off."""
    skipped = False
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
            skipped = True
        except DatabaseError:  # not allowed: keep the checks
            pass
    try:
        yield skipped
    finally:
        if skipped and not connection.needs_rollback:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL session_replication_role = origin")
            except DatabaseError:  # the transaction failed: its rollback restores the setting
                pass


@contextmanager
def relaxed_transaction():
    """A transaction whose commit returns before its WAL reaches the disk (PostgreSQL's
    ``synchronous_commit = off``, for this transaction only). For engine-derived data that a
    crash would make the engine write again (a replan): the transaction stays atomic, only its
    durability in the last fraction of a second before a crash is given up. Inside a caller's
    transaction it is a plain savepoint (the caller's commit is left as it is)."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield
