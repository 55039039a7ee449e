"""Load a parsed file into the database.

Three phases, each bounded in memory:
1. Stream the file, validate each row (rows.py; for CSV portfolios a per-file compiled
   validator that gives exactly portfolio_row's results) and write good rows to a staging table
   (PostgreSQL: one streamed COPY per chunk of 50,000 rows into an UNLOGGED table, so the server
   stores a chunk while Python validates the next rows; elsewhere: batched INSERTs) and bad rows
   to ImportRowError, chunk by chunk, committed as they go (a re-run deletes them first).
2. Set-based checks against the file itself and the database (a reference twice in the file,
   a reference that belongs to another debtor, a balance above the debt, a closed case); the
   rejected lines leave the staging table.
3. One transaction applies the rest: upsert debtors by document, contact points, cases by
   creditor + reference (new cases created, changed balances updated), and records the job's
   outcome (fenced by its attempt number: a run that lost its lease undoes everything).
   PostgreSQL does it with a few INSERT … SELECT statements; the row-batch path does the same
   with the ORM, 2,000 rows at a time. Both give the same result.

Audit, decided with figures (200,000 new debtor+case rows, PostgreSQL 15, 2 cores, loaded
machine): the apply step took 20.6 s with a full audit row per debtor, contact point and case
(600,000 jsonb rows, 5 indexes on audit_auditlog), 13.2 s with one row per case only and 13.3 s
with none (the noise of the machine hides the slim per-case row; alone, measured on the case
insert, it costs about a quarter: 5.8 s against 4.3 s). So:
- Records CREATED by an import are audited through the import: one "import.records_created"
  row per job names the file (name, sha256), the creditor, the user and, per kind, the count
  and the ids created (runs of consecutive ids, normally one run per kind).
- Each created case still gets a slim "case.created" row ({"import_job": N, "line": L}): its
  timeline says "Created by import #N, line L", and the follow-up planner finds the import's
  cases through these rows. Its field values are those of the file's line (the file is kept).
- Every CHANGE of an existing record (a balance update) keeps its own row with before/after.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from itertools import islice

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import reasons
from cases.choices import CaseStatus
from cases.models import Case, Creditor
from collections_crm.accounts.models import Role, User
from collections_crm.audit.models import AuditLog
from collections_crm.core import bulk
from debtors.models import ContactPoint, ContactPointKind, Debtor
from debtors.services import debtor_zones_refresh
from debtors.zones import merge_zones, phone_zones, zones_text

from .limits import FileRefused
from .models import ImportJob, ImportRowError, Severity
from .parsing import CsvRows, Dialect, XlsxRows, is_blank, is_blank_cell
from .rows import (
    PORTFOLIO_STAGE_COLUMNS,
    RECORD,
    UNIT,
    UNUSABLE_REASONS,
    RowContext,
    best_sheet,
    compile_portfolio_row,
    find_header,
    normalise_header,
    portfolio_row,
    unusable_items,
)

log = logging.getLogger(__name__)

BATCH = 50_000
APPLY_BATCH = 2_000
NEW_CASE_NOTE = reasons.reason("first_contact")


class TooManyRows(Exception):
    """The file has more data rows than CRM_IMPORT_MAX_ROWS."""


# A spreadsheet's summary line under the data ("TOTAL;;;3.734,56"): not a row of the portfolio.
TOTAL_WORDS = frozenset({"total", "totales", "total general", "subtotal", "suma", "sum", "totals", "grand total", "saldo final"})
# What those words start with: a usual row whose first cell starts otherwise is not checked further.
_TOTAL_INITIALS = frozenset("TtSsGg \t")


def is_totals_row(cells: list) -> bool:
    first = next((c for c in cells if not is_blank_cell(c)), None)
    return isinstance(first, str) and len(first) < 20 and first.strip().rstrip(":").strip().lower() in TOTAL_WORDS


class Source:
    """The job's file as (line, cells) records after the header row, with a progress fraction."""

    def __init__(self, job: ImportJob):
        self.job = job
        self.handle = job.file.open("rb")
        if job.file_format == "xlsx":
            self.rows = XlsxRows(self.handle, choose_sheet=partial(best_sheet, job.kind))
        else:
            self.rows = CsvRows(self.handle, Dialect(job.encoding, job.delimiter))

    def fraction(self) -> float:
        if isinstance(self.rows, XlsxRows):
            return self.rows.rows_done / self.rows.max_row if self.rows.max_row else 0.0
        return self.rows.bytes_read / max(self.job.size, 1)

    def header_and_records(self, limit: int | None = None):
        headers, iterator = find_header(self.job.kind, self.rows)
        return headers, self._records(iterator, limit)

    def _records(self, iterator, limit):
        count = 0
        for line, cells in iterator:
            # (The usual row starts with a non-blank text cell; only the others need the full check.)
            first = cells[0] if cells else None
            if first.__class__ is str and first.strip():
                if first[:1] in _TOTAL_INITIALS and is_totals_row(cells):
                    continue
            elif is_blank(cells) or is_totals_row(cells):
                continue
            yield line, cells
            count += 1
            if limit is not None and count >= limit:
                return

    @property
    def may_hold_nul(self) -> bool:
        return self.rows.may_hold_nul

    def close(self) -> None:
        self.handle.close()


def nul_error(headers: list[str], cells: list) -> tuple[str, str, str] | None:
    """(column, value, reason) when a cell of the row holds a NUL character, which PostgreSQL's
    text cannot store: the row is rejected with this reason (the file's other rows still count)."""
    for index, cell in enumerate(cells):
        if cell.__class__ is str and "\x00" in cell:
            column = headers[index] if index < len(headers) and headers[index] else f"#{index + 1}"
            return (str(column)[:100], cell.replace("\x00", "\u2400")[:200],
                    _("This line holds a NUL character (a zero byte), which cannot be stored: the file is damaged here."))
    return None


def row_context(job: ImportJob, headers: list[str], *, today: dt.date) -> RowContext:
    index = {h: i for i, h in enumerate(headers)}
    columns = {target: index[header] for target, header in job.mapping.items() if header in index}
    ctx = RowContext(kind=job.kind, columns=columns, headers=headers, decimal_comma=job.decimal_comma,
                     day_first=job.day_first, currency=job.creditor.currency, today=today, creditor_id=job.creditor_id,
                     create_creditors=job.create_missing_creditors)
    if "creditor" in columns:
        ctx.creditors = creditor_keys()
    if "agent" in columns:
        ctx.agents = agent_keys()
    return ctx


def _unambiguous(pairs) -> dict:
    """key -> value for the keys that name one value only (two creditors of one name name neither)."""
    found: dict = {}
    for key, value in pairs:
        if key:
            found[key] = value if found.get(key, value) == value else None
    return {key: value for key, value in found.items() if value is not None}


def creditor_keys() -> dict[str, tuple[int, str]]:
    """Normalised code or name (accents, case and punctuation aside) -> (creditor id, currency).
    A code always names its creditor; a name only when no other creditor has it."""
    creditors = list(Creditor.objects.filter(active=True).values_list("pk", "code", "name", "currency"))
    by_name = _unambiguous((normalise_header(name), (pk, currency)) for pk, _code, name, currency in creditors)
    return by_name | {normalise_header(code): (pk, currency) for pk, code, _name, currency in creditors}


def agent_keys() -> dict[str, int]:
    """Normalised user name, e-mail or full name of the active agents -> their id."""
    agents = list(User.objects.filter(role=Role.AGENT, is_active=True).values_list("pk", "username", "email", "first_name", "last_name"))
    names = _unambiguous(
        pair for pk, _u, email, first, last in agents
        for pair in ((normalise_header(email), pk), (normalise_header(f"{first} {last}"), pk), (normalise_header(f"{last} {first}"), pk))
    )
    return names | {normalise_header(username): pk for pk, username, *_rest in agents}


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def copy_line(row: tuple) -> str:
    """One line of COPY text format. The usual row (no NULL, no tab, newline or backslash in any
    value) is joined in one C call; the rest go value by value."""
    line = "\t".join(map(str, row))
    if line.count("\t") != len(row) - 1 or "\\" in line or "\n" in line or "\r" in line or ("None" in line and None in row):
        line = "\t".join(_copy_text(v) for v in row)
    return line + "\n"


class _LineStream:
    """A read-only text file over an iterator of lines, so COPY pulls the rows while they are
    validated: the server parses and writes one batch while Python reads the next lines (the
    two cores work at once) and no batch is ever built as one string."""

    def __init__(self, lines):
        self.lines = lines

    def read(self, size: int = -1) -> str:
        parts: list[str] = []
        total = 0
        for line in self.lines:
            parts.append(line)
            total += len(line)
            if 0 <= size <= total:
                break
        return "".join(parts)



class Stage:
    """A staging table for one job, dropped at the end whatever happens."""

    def __init__(self, job: ImportJob, columns: list[tuple[str, str]], *, use_copy: bool):
        self.table = f"imports_stage_{job.pk}"
        self.columns = columns
        self.names = ["line", *(c for c, _t in columns)]
        self.is_pg = connection.vendor == "postgresql"
        self.use_copy = use_copy and self.is_pg

    def create(self) -> None:
        types = [("decimal" if t.startswith("numeric") and not self.is_pg else t) for _c, t in self.columns]
        cols = ", ".join(f"{c} {t}" for (c, _t), t in zip(self.columns, types, strict=True))
        unlogged = "UNLOGGED " if self.is_pg else ""
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            cursor.execute(f"CREATE {unlogged}TABLE {self.table} (line integer PRIMARY KEY, {cols})")

    def write(self, rows) -> None:
        """Store an iterable of (line, *values) tuples: one streamed COPY on PostgreSQL,
        batched INSERTs elsewhere."""
        with connection.cursor() as cursor:
            if self.use_copy:
                stream = _LineStream(map(copy_line, rows))
                cursor.cursor.copy_expert(f"COPY {self.table} ({', '.join(self.names)}) FROM STDIN", stream, size=256 * 1024)
                return
            marks = ", ".join(["%s"] * len(self.names))
            sql = f"INSERT INTO {self.table} ({', '.join(self.names)}) VALUES ({marks})"
            rows = iter(rows)
            while batch := list(islice(rows, APPLY_BATCH)):
                cursor.executemany(sql, [tuple(str(v) if isinstance(v, (Decimal, dt.date)) else v for v in row) for row in batch])

    def index(self, *columns: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE INDEX {self.table}_{'_'.join(columns)} ON {self.table} ({', '.join(columns)})")
            if self.is_pg:
                cursor.execute(f"ANALYZE {self.table}")

    def drop(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")

    def dropped_with(self, finish: Callable[[dict[str, int]], None]) -> Callable[[dict[str, int]], None]:
        """``finish`` and then this table's drop, both in the caller's (finishing) transaction: a
        job recorded as finished never leaves its staging table behind, even if its worker is
        killed right after the commit. (The runners still drop it on the way out of a failure.)"""
        def finish_and_drop(counts: dict[str, int]) -> None:
            finish(counts)
            self.drop()
        return finish_and_drop


def stage_file(job: ImportJob, stage: Stage, row_fn: Callable, *, today: dt.date, on_progress: Callable[[float], None],
               derive: Callable[[tuple], object] | None = None) -> tuple[int, RowContext]:
    """Phase 1. Returns the number of data rows read and the rows' context (the creditors a
    creditor column asks to create). ``row_fn(ctx, cells)`` validates a row;
    ``portfolio_row`` runs as its per-file compiled form (same results, see rows.py).
    ``derive(row)``, if given, is staged after the row's values (the stage's last column).

    The file goes to the staging table in chunks of BATCH rows, each one streamed COPY; between
    chunks the rejected rows are saved and progress is reported (which is the job's heartbeat),
    so memory holds at most one chunk's errors."""
    source = Source(job)
    try:
        headers, records = source.header_and_records()
        ctx = row_context(job, headers, today=today)
        validate = compile_portfolio_row(ctx) if row_fn is portfolio_row else (lambda cells: row_fn(ctx, cells))
        max_rows = settings.CRM_IMPORT_MAX_ROWS
        rows = source.rows  # (may_hold_nul turns true once a zero byte was read: free on a clean file)
        errors: list[ImportRowError] = []
        seen = 0
        refused: list[FileRefused] = []

        def good_rows(limit: int):
            # Never raise in here: an exception inside COPY aborts the whole transaction. (A file
            # past a limit further down, an endless line, is raised once this chunk is stored.)
            try:
                yield from _good_rows(limit)
            except FileRefused as exc:
                refused.append(exc)

        def _good_rows(limit: int):
            nonlocal seen
            for line, cells in islice(records, limit):
                seen += 1
                if seen > max_rows:
                    return
                if rows.may_hold_nul and (problem := nul_error(headers, cells)):
                    errors.append(ImportRowError(job=job, line=line, column=problem[0], value=problem[1], message=problem[2]))
                    continue
                row = validate(cells)
                if ctx.warnings:
                    errors.extend(ImportRowError(job=job, line=line, column=c, value=v, message=m, severity=Severity.WARNING)
                                  for c, v, m in ctx.warnings)
                if row is None:
                    errors.extend(ImportRowError(job=job, line=line, column=c, value=v, message=m) for c, v, m in ctx.errors)
                elif derive is None:
                    yield (line, *row)
                else:
                    yield (line, *row, derive(row))

        while True:
            before = seen
            stage.write(good_rows(BATCH))
            if refused:
                raise refused[0]
            if seen > max_rows:
                raise TooManyRows(max_rows)
            ImportRowError.objects.bulk_create(errors, batch_size=1000)
            errors.clear()
            if seen - before < BATCH:
                return seen, ctx
            on_progress(source.fraction())
    finally:
        source.close()


def _reference_header(job: ImportJob) -> str:
    return job.mapping.get("reference", "reference")


def duplicate_reference_message() -> str:
    return _("This reference is already on an earlier line of the file.")


def check_portfolio(job: ImportJob, stage: Stage) -> None:
    """Phase 2: reject lines that clash with an earlier line or with the database."""
    t = stage.table
    ref = _reference_header(job)
    # (Without a creditor column every line is the job's creditor's: the reference alone says it.)
    same_creditor = " AND o.creditor_id = s.creditor_id AND o.creditor_new = s.creditor_new" if "creditor" in job.mapping else ""
    checks = [
        # (A reference is unique per creditor; a creditor to be created has id 0 and its name's key.)
        (f"""SELECT s.line, s.reference FROM {t} s
             WHERE EXISTS (SELECT 1 FROM {t} o WHERE o.reference = s.reference AND o.line < s.line{same_creditor})""",
         duplicate_reference_message()),
        (f"""SELECT s.line, s.reference FROM {t} s
             JOIN cases_case c ON c.creditor_id = s.creditor_id AND c.reference = s.reference
             JOIN debtors_debtor d ON d.id = c.debtor_id
             WHERE d.document_type <> s.document_type OR d.document_number <> s.document_number""",
         _("This reference belongs to a case of another debtor.")),
        (f"""SELECT s.line, s.reference FROM {t} s
             JOIN cases_case c ON c.creditor_id = s.creditor_id AND c.reference = s.reference
             WHERE s.balance > c.original_amount + c.fees""",
         _("The new balance is larger than the case's amount plus fees.")),
        (f"""SELECT s.line, s.reference FROM {t} s
             JOIN cases_case c ON c.creditor_id = s.creditor_id AND c.reference = s.reference
             WHERE c.status IN ('paid', 'closed') AND s.balance <> c.balance""",
         _("The case is closed; its balance cannot change.")),
    ]
    with connection.cursor() as cursor:
        for select, message in checks:
            cursor.execute(
                f"INSERT INTO imports_importrowerror (job_id, line, \"column\", value, message, severity) "
                f"SELECT %(job)s, q.line, %(column)s, q.reference, %(message)s, %(severity)s FROM ({select}) q",
                {"job": job.pk, "column": ref[:100], "message": message[:300], "severity": Severity.REJECTED.value},
            )
        cursor.execute(f"DELETE FROM {t} WHERE line IN (SELECT line FROM imports_importrowerror WHERE job_id = %s AND severity = %s)",
                       [job.pk, Severity.REJECTED.value])


def apply_portfolio(job: ImportJob, stage: Stage, *, now: dt.datetime, strategy: str, new_creditors: dict[str, str]) -> dict[str, int]:
    """Phase 3, in the caller's transaction. Returns created / updated / unchanged counts."""
    creditors_create(job, stage, names=new_creditors, now=now)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT creditor_id FROM {stage.table} ORDER BY 1")
        creditor_ids = [row[0] for row in cursor.fetchall()]
        if connection.vendor == "postgresql":
            # Two imports for one creditor at once would race on the same references (locked in
            # id order, so that two imports of several creditors cannot deadlock).
            for creditor_id in creditor_ids:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [7007, creditor_id])
    if strategy == "copy":
        counts = _apply_portfolio_sql(job, stage, now=now)
    else:
        counts = _apply_portfolio_batch(job, stage, now=now)
    assign_imported(job, stage, now=now)
    return counts


def creditors_create(job: ImportJob, stage: Stage, *, names: dict[str, str], now: dt.datetime) -> list[Creditor]:
    """The creditors a creditor column named and the admin asked to create (only those whose
    lines are still staged), each with a unique code and an audit row; the staged lines get
    their ids."""
    from django.utils.text import slugify

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT creditor_new FROM {stage.table} WHERE creditor_id = 0 ORDER BY 1")
        keys = [row[0] for row in cursor.fetchall()]
    created = []
    taken = set(Creditor.objects.values_list("code", flat=True))
    for key in keys:
        name = names.get(key, key)
        base = slugify(name)[:34] or "creditor"
        code, n = base, 1
        while code in taken:
            n += 1
            code = f"{base}-{n}"
        taken.add(code)
        creditor = Creditor.objects.create(code=code, name=name, currency=job.creditor.currency)
        AuditLog.objects.create(at=now, actor_id=job.created_by_id, action="creditor.created", object_type="cases.creditor",
                                object_id=str(creditor.pk), after={"code": code, "name": name, "import_job": job.pk})
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {stage.table} SET creditor_id = %s WHERE creditor_id = 0 AND creditor_new = %s", [creditor.pk, key])
        created.append(creditor)
    return created


def assignment_blocks(job: ImportJob, count: int) -> tuple[str, list[tuple[int, int]]]:
    """How the import's option hands out ``count`` unassigned cases, in file order: ("cycle",
    [(agent, 1), ...]) takes the agents in turn; ("blocks", [(agent, n), ...]) gives each agent
    its n cases in a row. Balanced fills up the agents with the fewest open cases first, so that
    the team ends as level as the count allows."""
    if job.assign_mode == "agent":
        agent = job.assign_agent
        ok = agent is not None and agent.is_active and agent.role == Role.AGENT
        return "blocks", [(agent.pk, count)] if ok and count else []
    if job.assign_mode not in ("round_robin", "balanced") or job.assign_team_id is None or not count:
        return "blocks", []
    agents = list(User.objects.filter(team_id=job.assign_team_id, role=Role.AGENT, is_active=True).order_by("pk").values_list("pk", flat=True))
    if not agents:
        return "blocks", []
    if job.assign_mode == "round_robin":
        return "cycle", [(pk, 1) for pk in agents]
    from django.db.models import Count

    loads = dict(Case.objects.filter(assigned_agent_id__in=agents, status__in=CaseStatus.workable_values()).values("assigned_agent_id")
                 .annotate(n=Count("pk")).values_list("assigned_agent_id", "n"))
    return "blocks", level_quotas([(loads.get(pk, 0), pk) for pk in agents], count)


def level_quotas(loads: list[tuple[int, int]], count: int) -> list[tuple[int, int]]:
    """(agent, how many new cases) that bring the least loaded agents up to one level: water
    filling over (load, agent) pairs; the remainder goes one each to the least loaded."""
    ordered = sorted(loads)
    total, k = 0, 0
    for k in range(1, len(ordered) + 1):
        total += ordered[k - 1][0]
        if k == len(ordered) or (count + total) / k <= ordered[k][0]:
            break
    level = (count + total) // k
    quotas = [(pk, max(0, level - load)) for load, pk in ordered[:k]]
    left = count - sum(q for _pk, q in quotas)
    quotas = [(pk, q + (1 if i < left else 0)) for i, (pk, q) in enumerate(quotas)]
    return [(pk, q) for pk, q in quotas if q]


def assign_imported(job: ImportJob, stage: Stage, *, now: dt.datetime) -> int:
    """Give the file's unassigned open cases (the ones it created, and any it names that sat
    unassigned) to the agent of their line's agent column, or else as the import's option says;
    one "case.assigned" audit row each. Set-based: one read and one write per agent."""
    if not job.assign_mode and "agent" not in job.mapping:
        return 0  # (a million staged lines are not read to give nobody anything)
    t = stage.table
    workable = CaseStatus.workable_values()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT c.id, s.agent_id FROM {t} s JOIN cases_case c ON c.creditor_id = s.creditor_id AND c.reference = s.reference
                WHERE c.assigned_agent_id IS NULL AND c.status IN ({", ".join(["%s"] * len(workable))}) ORDER BY s.line""", workable)
        todo = cursor.fetchall()
    by_agent: dict[int, list[int]] = {}
    rest = [case_id for case_id, agent_id in todo if not agent_id]
    for case_id, agent_id in todo:
        if agent_id:
            by_agent.setdefault(agent_id, []).append(case_id)
    how, blocks = assignment_blocks(job, len(rest))
    if how == "cycle":
        for i, case_id in enumerate(rest):
            by_agent.setdefault(blocks[i % len(blocks)][0], []).append(case_id)
    else:
        at = 0
        for agent_id, n in blocks:
            by_agent.setdefault(agent_id, []).extend(rest[at:at + n])
            at += n
    assigned = 0
    for agent_id, case_ids in by_agent.items():
        for start in range(0, len(case_ids), 10_000):
            ids = case_ids[start:start + 10_000]
            Case.objects.filter(pk__in=ids, assigned_agent__isnull=True).update(
                assigned_agent_id=agent_id, version=F("version") + 1, updated_at=now)
            AuditLog.objects.bulk_create(
                [_audit(job.created_by_id, "case.assigned", "cases.case", pk, at=now, case_id=pk, before={"assigned_agent_id": None},
                        after={"assigned_agent_id": agent_id, "import_job": job.pk}) for pk in ids], batch_size=5000)
            assigned += len(ids)
    return assigned


# The ids a statement created, as runs of consecutive ids ([[first, last], ...]) and their count:
# one INSERT … SELECT takes its ids from the sequence in one go, so this is one run unless
# another session inserted at the same moment.
_ID_RUNS = """SELECT COALESCE(sum(n), 0)::bigint, COALESCE(jsonb_agg(jsonb_build_array(lo, hi) ORDER BY lo), '[]')
              FROM (SELECT min(id) AS lo, max(id) AS hi, count(*) AS n
                    FROM (SELECT id, id - row_number() OVER (ORDER BY id) AS run FROM ins) r GROUP BY run) g"""


def _apply_portfolio_sql(job: ImportJob, stage: Stage, *, now: dt.datetime) -> dict[str, int]:
    t = stage.table
    params = {"job": job.pk, "actor": job.created_by_id, "now": now, "note": json.dumps(NEW_CASE_NOTE), "unit": UNIT, "record": RECORD,
              **{f"unusable_{kind}": str(reason) for kind, reason in UNUSABLE_REASONS.items()}}
    created: dict[str, tuple[int, list]] = {}
    # Every foreign key written below comes from a join with the row it points to (or is the
    # job's own creditor and user), so the per-row checks only cost time (about half of the insert).
    with connection.cursor() as cursor, bulk.foreign_key_checks_skipped():
        # Sorts and hashes over a million staged rows stay in memory instead of spilling to disk.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(f"SELECT count(*) FROM {t}")
        staged = cursor.fetchone()[0]
        cursor.execute(
            f"""WITH src AS (
                    SELECT DISTINCT ON (document_type, document_number) * FROM {t} ORDER BY document_type, document_number, line
                ), ins AS (
                    INSERT INTO debtors_debtor (kind, name, document_type, document_number, country, timezone, language, notes,
                        do_not_contact, cease_communication, attorney_represented, deceased, bankruptcy, candidate_timezones,
                        postal_code, birth_date, created_at, updated_at)
                    SELECT kind, name, document_type, document_number, country, timezone, language, '',
                        false, false, false, false, false, zones, postal_code, birth_date, %(now)s, %(now)s FROM src
                    ON CONFLICT (document_type, document_number) DO NOTHING
                    RETURNING id
                ) {_ID_RUNS}""",
            params,
        )
        created["debtors"] = cursor.fetchone()
        insert_points = """INSERT INTO debtors_contactpoint (debtor_id, kind, value, label, person_name, is_primary, verified,
                        consent, opted_out, do_not_contact, unusable_reason, created_at)
                    SELECT debtor_id, kind, value, '', '', false, false, false, false, false, reason, %(now)s FROM src
                    ON CONFLICT (debtor_id, kind, value) DO NOTHING
                    RETURNING id"""
        cursor.execute(
            f"""WITH src AS (
                    SELECT DISTINCT d.id AS debtor_id, p.kind, v.value, '' AS reason FROM {t} s
                    JOIN debtors_debtor d ON d.document_type = s.document_type AND d.document_number = s.document_number
                    CROSS JOIN LATERAL (VALUES ('phone', s.phone), ('email', s.email)) AS p(kind, cell)
                    CROSS JOIN LATERAL unnest(string_to_array(p.cell, ' ')) AS v(value)
                    WHERE v.value <> ''
                    -- In the order of the unique index: each insert lands on its rightmost page
                    -- (1 M rows: 10.7 s against 14.0-14.5 s in the hash's order).
                    ORDER BY 1, 2, 3
                ), ins AS ({insert_points}) {_ID_RUNS}""",
            params,
        )
        points_count, points_runs = cursor.fetchone()
        more_count, more_runs = 0, []
        # Addresses, and the values that could not be read (kept as unusable with their kind's
        # reason, each reported as a warning): a statement of their own, when the file has any.
        if "address" in job.mapping or ImportRowError.objects.filter(job=job, severity=Severity.WARNING).exists():
            more_count, more_runs = _insert_more_points(cursor, t, insert_points, params)
        as_list = [json.loads(r) if isinstance(r, str) else r for r in (points_runs, more_runs)]
        created["contact_points"] = (int(points_count) + int(more_count), as_list[0] + as_list[1])
        cursor.execute(
            f"""WITH chg AS (
                    SELECT c.id, c.balance AS old_balance, s.balance AS new_balance FROM {t} s
                    JOIN cases_case c ON c.creditor_id = s.creditor_id AND c.reference = s.reference
                    WHERE c.balance <> s.balance
                    FOR UPDATE OF c
                ), upd AS (
                    UPDATE cases_case c SET balance = chg.new_balance, version = c.version + 1, updated_at = %(now)s
                    FROM chg WHERE c.id = chg.id RETURNING c.id
                )
                INSERT INTO audit_auditlog (at, actor_id, action, object_type, object_id, case_id, before, after)
                SELECT %(now)s, %(actor)s, 'case.balance_imported', 'cases.case', chg.id::text, chg.id,
                    jsonb_build_object('balance', chg.old_balance::text),
                    jsonb_build_object('balance', chg.new_balance::text, 'import_job', %(job)s)
                FROM chg JOIN upd ON upd.id = chg.id""",
            params,
        )
        updated = cursor.rowcount
        cursor.execute(
            f"""WITH ins AS (
                    INSERT INTO cases_case (creditor_id, debtor_id, reference, original_amount, fees, balance, currency, due_date,
                        placed_at, status, objective, objective_reason, assigned_agent_id, next_action_at, next_action_note,
                        last_contact_at, last_outcome, closed_at, version, created_at, updated_at)
                    SELECT s.creditor_id, d.id, s.reference, s.original_amount, s.fees, s.balance, s.currency, s.due_date,
                        s.placed_at, 'new', 'remind', '{{}}'::jsonb, NULL, %(now)s, %(note)s::jsonb, NULL, '', NULL, 1, %(now)s, %(now)s
                    FROM {t} s JOIN debtors_debtor d ON d.document_type = s.document_type AND d.document_number = s.document_number
                    ON CONFLICT (creditor_id, reference) DO NOTHING
                    RETURNING id, creditor_id, reference
                ), aud AS (
                    INSERT INTO audit_auditlog (at, actor_id, action, object_type, object_id, case_id, before, after)
                    SELECT %(now)s, %(actor)s, 'case.created', 'cases.case', ins.id::text, ins.id, NULL,
                        jsonb_build_object('import_job', %(job)s, 'line', s.line)
                    FROM ins JOIN {t} s ON s.reference = ins.reference AND s.creditor_id = ins.creditor_id
                ) {_ID_RUNS}""",
            params,
        )
        created["cases"] = cursor.fetchone()
        # A new debtor's zones came from its first line. Those that a line does not account for
        # (a debtor on several lines with other phones, an existing debtor given a new phone or
        # its candidates not worked out yet) are worked out again from all their phones.
        cursor.execute(
            f"""SELECT DISTINCT d.id FROM {t} s
                JOIN debtors_debtor d ON d.document_type = s.document_type AND d.document_number = s.document_number
                WHERE s.zones <> d.candidate_timezones AND NOT d.timezone_confirmed
                AND NOT string_to_array(s.zones, ',') <@ string_to_array(d.candidate_timezones, ',')"""
        )
        uncovered = [row[0] for row in cursor.fetchall()]
    debtor_zones_refresh(debtor_ids=uncovered)
    _audit_created(job, now=now, created=created)
    return {"created": created["cases"][0], "updated": updated, "unchanged": staged - created["cases"][0] - updated}


def _insert_more_points(cursor, t: str, insert_points: str, params: dict) -> tuple[int, list]:
    """Addresses and unusable values of the staged lines as contact points: (count, id runs)."""
    cursor.execute(
        f"""WITH src AS (
                SELECT DISTINCT d.id AS debtor_id, v.kind, v.value, v.reason FROM {t} s
                JOIN debtors_debtor d ON d.document_type = s.document_type AND d.document_number = s.document_number
                CROSS JOIN LATERAL (
                    SELECT 'address', s.address, '' WHERE s.address <> ''
                    UNION ALL SELECT split_part(u, %(unit)s, 1), split_part(u, %(unit)s, 2),
                        CASE split_part(u, %(unit)s, 1) WHEN 'phone' THEN %(unusable_phone)s
                            WHEN 'email' THEN %(unusable_email)s ELSE %(unusable_address)s END
                    FROM unnest(string_to_array(NULLIF(s.unusable, ''), %(record)s)) AS u
                ) AS v(kind, value, reason)
                WHERE (s.address <> '' OR s.unusable <> '') AND v.value <> ''
                ORDER BY 1, 2, 3
            ), ins AS ({insert_points}) {_ID_RUNS}""",
        params,
    )
    return cursor.fetchone()


def _id_runs(ids: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for pk in sorted(ids):
        if runs and runs[-1][1] == pk - 1:
            runs[-1][1] = pk
        else:
            runs.append([pk, pk])
    return runs


def _audit_created(job: ImportJob, *, now: dt.datetime, created: dict[str, tuple[int, list]]) -> None:
    """The one audit row for the debtors, contact points and cases the import created: who, which
    file, and the ids (runs of consecutive ids). See the module docstring for why."""
    AuditLog.objects.create(
        at=now, actor_id=job.created_by_id, action="import.records_created", object_type="imports.importjob",
        object_id=str(job.pk), after={
            "file": job.original_name, "sha256": job.sha256, "creditor_id": job.creditor_id,
            # (Django leaves jsonb from a raw cursor as text.)
            **{kind: {"count": int(count), "ids": json.loads(runs) if isinstance(runs, str) else runs}
               for kind, (count, runs) in created.items()},
        },
    )


def _stage_batches(stage: Stage):
    names = stage.names
    last = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(names)} FROM {stage.table} WHERE line > %s ORDER BY line LIMIT {APPLY_BATCH}", [last])
            rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        if not rows:
            return
        last = rows[-1]["line"]
        for row in rows:
            for key in ("original_amount", "fees", "balance"):
                row[key] = Decimal(str(row[key])).quantize(Decimal("0.01"))
            for key in ("due_date", "placed_at", "birth_date"):
                if isinstance(row[key], str):
                    row[key] = dt.date.fromisoformat(row[key])
        yield rows


def _audit(actor_id, action: str, obj_type: str, obj_id: int, *, at, case_id=None, before=None, after=None) -> AuditLog:
    return AuditLog(at=at, actor_id=actor_id, action=action, object_type=obj_type, object_id=str(obj_id), case_id=case_id,
                    before=before, after=after)


def _apply_portfolio_batch(job: ImportJob, stage: Stage, *, now: dt.datetime) -> dict[str, int]:
    actor = job.created_by_id
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    created_ids: dict[str, list[int]] = {"debtors": [], "contact_points": [], "cases": []}
    for rows in _stage_batches(stage):
        audits: list[AuditLog] = []
        # Debtors by identity document; a new one takes the details of its first line.
        numbers = {r["document_number"] for r in rows}
        debtors = {
            (t, n): pk for pk, t, n in Debtor.objects.filter(document_number__in=numbers).values_list("id", "document_type", "document_number")
        }
        new_debtors: dict[tuple, Debtor] = {}
        for r in rows:
            key = (r["document_type"], r["document_number"])
            if key not in debtors and key not in new_debtors:
                new_debtors[key] = Debtor(kind=r["kind"], name=r["name"], document_type=key[0], document_number=key[1],
                                          country=r["country"], timezone=r["timezone"], language=r["language"],
                                          candidate_timezones=r["zones"], postal_code=r["postal_code"] or "",
                                          birth_date=r["birth_date"])
        Debtor.objects.bulk_create(new_debtors.values())
        for key, debtor in new_debtors.items():
            debtors[key] = debtor.pk
        created_ids["debtors"] += [d.pk for d in new_debtors.values()]
        # Contact points not known yet.
        ids = {debtors[(r["document_type"], r["document_number"])] for r in rows}
        known = set(ContactPoint.objects.filter(debtor_id__in=ids).values_list("debtor_id", "kind", "value"))
        new_points = {}
        for r in rows:
            debtor_id = debtors[(r["document_type"], r["document_number"])]
            values = [(kind, value, "") for kind in ("phone", "email") for value in (r[kind] or "").split()]  # several phones
            if r["address"]:
                values.append(("address", r["address"], ""))
            values += [(kind, value, str(UNUSABLE_REASONS[kind])) for kind, value in unusable_items(r["unusable"] or "")]
            for kind, value, reason in values:
                key = (debtor_id, kind, value)
                if value and key not in known and key not in new_points:
                    new_points[key] = ContactPoint(debtor_id=debtor_id, kind=kind, value=value, unusable_reason=reason)
        ContactPoint.objects.bulk_create(new_points.values())
        created_ids["contact_points"] += [p.pk for p in new_points.values()]
        # (A new debtor's first line gave its zones; the refresh writes only what its other
        # lines, or an existing debtor's new phones, change.)
        debtor_zones_refresh(debtor_ids={p.debtor_id for p in new_points.values() if p.kind == ContactPointKind.PHONE})
        # Cases by creditor + reference: create, or update a changed balance.
        existing = {
            (c.creditor_id, c.reference): c
            for c in Case.objects.select_for_update()
            .filter(creditor_id__in={r["creditor_id"] for r in rows}, reference__in=[r["reference"] for r in rows])
            .only("id", "creditor_id", "reference", "balance")
        }
        new_cases = []
        lines = {}
        for r in rows:
            case = existing.get((r["creditor_id"], r["reference"]))
            if case is None:
                new_cases.append(Case(
                    creditor_id=r["creditor_id"], debtor_id=debtors[(r["document_type"], r["document_number"])], reference=r["reference"],
                    original_amount=r["original_amount"], fees=r["fees"], balance=r["balance"], currency=r["currency"],
                    due_date=r["due_date"], placed_at=r["placed_at"], next_action_at=now, next_action_note=NEW_CASE_NOTE,
                ))
                lines[(r["creditor_id"], r["reference"])] = r["line"]
            elif case.balance != r["balance"]:
                Case.objects.filter(pk=case.pk).update(balance=r["balance"], version=F("version") + 1, updated_at=now)
                audits.append(_audit(actor, "case.balance_imported", "cases.case", case.pk, at=now, case_id=case.pk,
                                     before={"balance": str(case.balance)}, after={"balance": str(r["balance"]), "import_job": job.pk}))
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
        Case.objects.bulk_create(new_cases)
        for case in new_cases:
            audits.append(_audit(actor, "case.created", "cases.case", case.pk, at=now, case_id=case.pk,
                                 after={"import_job": job.pk, "line": lines[(case.creditor_id, case.reference)]}))
        created_ids["cases"] += [c.pk for c in new_cases]
        counts["created"] += len(new_cases)
        AuditLog.objects.bulk_create(audits)
    _audit_created(job, now=now, created={kind: (len(ids), _id_runs(ids)) for kind, ids in created_ids.items()})
    return counts


# Seconds per phase of the last portfolio run in this process (the benchmark reports them).
PHASE_SECONDS: dict[str, float] = {}


def drop_stage(job_id: int) -> None:
    """The staging table a dead worker left behind (a new run recreates it anyway)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS imports_stage_{int(job_id)}")


_ZONE_AT = [name for name, _type in PORTFOLIO_STAGE_COLUMNS].index("timezone")
_PHONE_AT = [name for name, _type in PORTFOLIO_STAGE_COLUMNS].index("phone")
_line_zones: dict[tuple, str] = {}


def line_zones(row: tuple) -> str:
    """The candidate zones of a portfolio line's debtor as far as that line tells: its zone and
    its phones' zones (debtors/zones.py), as ``Debtor.candidate_timezones`` holds them. Staged
    with the line, so that new debtors are inserted with them (about 1 µs a line)."""
    zone, phones = row[_ZONE_AT], row[_PHONE_AT]
    if not phones:
        return zone
    key = (zone, phone_zones(phones)) if " " not in phones else (zone, *map(phone_zones, phones.split(" ")))
    text = _line_zones.get(key)
    if text is None:
        if len(_line_zones) >= 10_000:
            _line_zones.clear()
        text = _line_zones[key] = zones_text(merge_zones(zone, key[1:]))
    return text


def problem_counts(job: ImportJob) -> dict[str, int]:
    """Lines rejected, and lines imported with warnings (a rejected line counts as rejected only)."""
    rejected = ImportRowError.objects.filter(job=job, severity=Severity.REJECTED).values("line")
    warned = ImportRowError.objects.filter(job=job, severity=Severity.WARNING).exclude(line__in=rejected).values("line")
    return {"rejected": rejected.distinct().count(), "warned": warned.distinct().count()}


def run_portfolio(job: ImportJob, *, now: dt.datetime, strategy: str, on_progress: Callable[[float], None],
                  finish: Callable[[dict[str, int]], None]) -> dict[str, int]:
    """All three phases for a debtors-and-cases file. Returns the job's counters. ``finish(counts)``
    runs inside the apply transaction (it records the outcome on the job and may raise to undo it all)."""
    stage = Stage(job, [*PORTFOLIO_STAGE_COLUMNS, ("zones", "text")], use_copy=strategy == "copy")
    stage.create()
    finish = stage.dropped_with(finish)
    clock = time.perf_counter()
    try:
        total, ctx = stage_file(job, stage, portfolio_row, today=timezone.localdate(now), on_progress=lambda f: on_progress(0.8 * f),
                                derive=line_zones)
        stage.index("reference", "line")
        staged_at = time.perf_counter()
        check_portfolio(job, stage)
        on_progress(0.85)
        counts = {"total": total, **problem_counts(job), "created": 0, "updated": 0, "unchanged": 0}
        checked_at = time.perf_counter()
        with transaction.atomic():
            if not (counts["rejected"] and job.all_or_nothing):
                counts.update(apply_portfolio(job, stage, now=now, strategy=strategy, new_creditors=ctx.new_creditors))
            finish(counts)
        PHASE_SECONDS.update(staged=staged_at - clock, checked=checked_at - staged_at, applied=time.perf_counter() - checked_at)
        log.info("import %s (%s): %d rows; read and staged in %.1fs, checked in %.1fs, applied in %.1fs", job.pk, strategy,
                 total, PHASE_SECONDS["staged"], PHASE_SECONDS["checked"], PHASE_SECONDS["applied"])
        return counts
    finally:
        stage.drop()


PAYMENT_STAGE_COLUMNS = [
    ("reference", "text"), ("amount", "numeric(14,2)"), ("received_on", "date"), ("method", "varchar(16)"),
    ("payment_reference", "varchar(100)"),
]


# The words of a bank's concept that could be a case reference ("EXP-001", "2024/123").
_REFERENCE_WORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-_/.]*[A-Za-z0-9])?")


def _match_payment_cases(job: ImportJob, stage: Stage) -> dict[int, int]:
    """Line → case id. A row names its case by the exact reference, or else in a bank's
    free-text concept ("TRANSF. JUAN PEREZ EXP-001 NOV"): the one case of the creditor whose
    reference is a word of it, in any case of letters. No case, or several, rejects the row."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT s.line, s.reference, c.id FROM {stage.table} s LEFT JOIN cases_case c "
                       "ON c.creditor_id = %s AND c.reference = s.reference", [job.creditor_id])
        staged = cursor.fetchall()
    case_of = {line: case_id for line, _reference, case_id in staged if case_id is not None}
    words = {line: {w.upper() for w in _REFERENCE_WORD.findall(reference) if len(w) >= 3}
             for line, reference, case_id in staged if case_id is None}
    cases_by_word: dict[str, set[int]] = {}
    wanted = sorted(set().union(*words.values())) if words else []
    for start in range(0, len(wanted), 1000):
        for pk, word in (Case.objects.annotate(word=Upper("reference"))
                         .filter(creditor_id=job.creditor_id, word__in=wanted[start:start + 1000]).values_list("pk", "word")):
            cases_by_word.setdefault(word, set()).add(pk)
    column = _reference_header(job)[:100]
    errors = []
    for line, reference, case_id in staged:
        if case_id is not None:
            continue
        found = set().union(*(cases_by_word.get(w, set()) for w in words[line]))
        if len(found) == 1:
            case_of[line] = found.pop()
            continue
        message = _("More than one case of this creditor is named here.") if found else _("No case of this creditor has this reference.")
        errors.append(ImportRowError(job=job, line=line, column=column, value=reference[:200], message=message))
    ImportRowError.objects.bulk_create(errors, batch_size=1000)
    return case_of


def run_payments(job: ImportJob, *, now: dt.datetime, strategy: str, on_progress: Callable[[float], None],
                 finish: Callable[[dict[str, int]], None]) -> dict[str, int]:
    """A bank or provider file: each row is posted with payment_post (it settles promises and
    instalments and closes paid cases), keyed so that the same row imported twice posts once."""
    import hashlib

    from django.core.exceptions import ValidationError

    from cases.services import payment_post

    from .rows import payment_row

    stage = Stage(job, PAYMENT_STAGE_COLUMNS, use_copy=strategy == "copy")
    stage.create()
    finish = stage.dropped_with(finish)
    t = stage.table
    try:
        total, _ctx = stage_file(job, stage, payment_row, today=timezone.localdate(now), on_progress=lambda f: on_progress(0.5 * f))
        case_of = _match_payment_cases(job, stage)
        rejected_lines = set(ImportRowError.objects.filter(job=job, severity=Severity.REJECTED).values_list("line", flat=True))
        counts = {"total": total, "rejected": len(rejected_lines), "warned": 0, "created": 0, "updated": 0, "unchanged": 0}
        if rejected_lines and job.all_or_nothing:
            with transaction.atomic():
                finish(counts)
            return counts
        failures: list[ImportRowError] = []
        # The n-th identical row of the file gets the n-th key: two equal payments on one day stay two.
        select = (
            f"SELECT s.line, s.amount, s.received_on, s.method, s.payment_reference, s.reference, "
            f"ROW_NUMBER() OVER (PARTITION BY s.reference, s.amount, s.received_on, s.payment_reference ORDER BY s.line) "
            f"FROM {t} s ORDER BY s.line"
        )
        with connection.cursor() as cursor:
            cursor.execute(select)
            # Payment files are small next to portfolios; the size limit bounds them.
            rows = [(line, case_of[line], *rest) for line, *rest in cursor.fetchall() if line in case_of]
        with transaction.atomic():
            for index, (line, case_id, amount, received_on, method, pay_ref, reference, nth) in enumerate(rows, start=1):
                amount = Decimal(str(amount)).quantize(Decimal("0.01"))
                received_on = dt.date.fromisoformat(received_on) if isinstance(received_on, str) else received_on
                raw_key = f"{job.creditor_id}|{reference}|{amount}|{received_on}|{pay_ref}|{nth}"
                key = "import:" + hashlib.sha256(raw_key.encode()).hexdigest()
                try:
                    payment = payment_post(actor=job.created_by, case_id=case_id, amount=amount, received_on=received_on,
                                           method=method, reference=pay_ref, idempotency_key=key, now=now)
                except ValidationError as exc:
                    for field_name, messages in (exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}).items():
                        column = job.mapping.get(field_name, field_name)
                        failures.append(ImportRowError(job=job, line=line, column=column[:100], value=reference, message=messages[0][:300]))
                    continue
                counts["created" if payment.created_at == now else "unchanged"] += 1
                if index % 500 == 0:
                    on_progress(0.5 + 0.5 * index / len(rows))
            undo = bool(failures and job.all_or_nothing)
            if undo:
                transaction.set_rollback(True)
                counts.update(created=0, unchanged=0)
            else:
                ImportRowError.objects.bulk_create(failures)
                counts["rejected"] += len({f.line for f in failures})
                finish(counts)
        if undo:
            with transaction.atomic():
                ImportRowError.objects.bulk_create(failures)
                counts["rejected"] += len({f.line for f in failures})
                finish(counts)
        return counts
    finally:
        stage.drop()
