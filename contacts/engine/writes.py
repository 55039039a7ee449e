"""The planner's bulk writes.

Owns how engine-built rows reach the database: ``insert_rows`` (COPY on PostgreSQL for big
batches, bulk_create otherwise) and ``cases_plan_update``, the write of many cases' objective,
reason and next action with one audit row per change of objective. These are derived fields:
a case's status is never written here (that is cases.services.case_change's job)."""

from __future__ import annotations

import datetime as dt
import json

from django.db import connection, models

from cases.models import Case
from collections_crm.audit.models import AuditLog
from collections_crm.core import bulk

NEW_FOLLOWUP_FIELDS = (
    "case_id", "objective", "purpose", "step", "channel", "kind", "due_at", "anchor_at", "rule_id", "cadence_step_id",
    "reason", "instructions", "is_consequence", "policy_reason",
)
AUDIT_FIELDS = ("at", "actor_id", "action", "object_type", "object_id", "case_id", "before", "after")


REFUSAL_FIELDS = ("case_id", "channel", "reason", "stage", "at", "next_allowed_at", "pack_id", "followup_id", "user_id")


def insert_rows(model, fields: tuple[str, ...], rows: list[tuple], *, want_ids: bool = False, **constants) -> list[int]:
    """Insert engine-built rows (plain values, no JSON): COPY on PostgreSQL for big batches,
    bulk_create otherwise.
    With ``want_ids`` it returns their ids (for COPY taken from the table's sequence first, a
    round trip that costs about as much as the COPY itself, so only when asked)."""
    if not rows:
        return []
    if bulk.use_copy(len(rows)):
        table = model._meta.db_table
        model_fields = [model._meta.get_field(f) for f in fields]
        null_columns = [f.column for f in model_fields if f.null and f.get_internal_type() not in ("CharField", "TextField")]
        json_at = [i for i, f in enumerate(model_fields) if isinstance(f, models.JSONField)]
        if json_at:
            rows = [_dumped(row, json_at) for row in rows]
        # (A constant moment is written as text once, not once per row.)
        extra = tuple(v.isoformat() if isinstance(v, dt.datetime) else v for v in constants.values())
        columns = [*(f.column for f in model_fields), *constants]
        if not want_ids:
            bulk.copy_rows(table, columns, ((*row, *extra) for row in rows), null_columns=null_columns)
            return []
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [len(rows)])
            ids = [r[0] for r in cursor.fetchall()]
        bulk.copy_rows(table, ["id", *columns], ((pk, *row, *extra) for pk, row in zip(ids, rows, strict=True)),
                       null_columns=null_columns)
        return ids
    objs = model.objects.bulk_create([model(**dict(zip(fields, row, strict=True)), **constants) for row in rows], batch_size=2000)
    return [o.pk for o in objs]


def _dumped(row: tuple, json_at: list[int]) -> tuple:
    values = list(row)
    for i in json_at:
        values[i] = _json(values[i])
    return tuple(values)


def _json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _pause_audit(updates: list[tuple], old: dict[int, dict], *, now: dt.datetime, actor_id: int | None) -> list[tuple]:
    """One audit row per case the engine starts or stops holding (with why)."""
    rows = []
    for case_id, _objective, _reason, _next_at, _note, _rule_id, paused_at, paused_by in updates:
        was = old[case_id]["paused_at"]
        if (was is None) != (paused_at is None):
            action, after = ("case.paused", {"paused_at": paused_at.isoformat(), "why": paused_by}) if paused_at else (
                "case.resumed", {"paused_at": None})
            rows.append((now, actor_id, action, "cases.case", str(case_id), case_id,
                         {"paused_at": was.isoformat() if was else None}, after))
    return rows


def cases_plan_update(updates: list[tuple], old: dict[int, dict], *, now: dt.datetime, actor_id: int | None) -> None:
    """Write objective, reason, next action and pause of many cases (``updates``: (id, objective,
    reason, next action at, note, rule id, paused since, why paused); ``old``: their rows as read
    under lock) and audit each change of objective (before/after) and each pause and resume, in a
    few statements whatever their number. The planner's fields are derived data: the case version
    is not bumped, so an agent's open form is not invalidated by the engine."""
    table = Case._meta.db_table
    insert_rows(AuditLog, AUDIT_FIELDS, _pause_audit(updates, old, now=now, actor_id=actor_id))
    if bulk.use_copy(len(updates)):
        # COPY into a session temp table (emptied first: a caller may plan twice in one
        # transaction), with the old objective (and reason, where the objective changes); the
        # audit rows are built from it alone (the database makes the JSON), then one UPDATE … FROM.
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS plan_case_reasons (id bigint PRIMARY KEY, objective varchar(20), "
                "reason jsonb, next_at timestamptz, note jsonb, rule_id bigint, paused_at timestamptz, "
                "old_objective varchar(20), old_reason jsonb)"
            )
            cursor.execute("TRUNCATE plan_case_reasons")
        rows = []
        for case_id, objective, reason, next_at, note, rule_id, paused_at, _paused_by in updates:
            was = old[case_id]
            rows.append((case_id, objective, _json(reason), next_at, _json(note), rule_id, paused_at, was["objective"],
                         _json(was["objective_reason"] if was["objective"] != objective else {})))
        bulk.copy_rows("plan_case_reasons", ["id", "objective", "reason", "next_at", "note", "rule_id", "paused_at", "old_objective",
                                             "old_reason"], rows, null_columns=["next_at", "rule_id", "paused_at"])
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {AuditLog._meta.db_table} ({', '.join(AUDIT_FIELDS)}) "
                f"SELECT %s, %s, 'case.objective_changed', 'cases.case', id::text, id, "
                f"jsonb_build_object('objective', old_objective, 'objective_reason', old_reason), "
                f"jsonb_build_object('objective', objective, 'objective_reason', reason, 'rule_id', rule_id) "
                f"FROM plan_case_reasons WHERE old_objective <> objective",
                [now, actor_id],
            )
            cursor.execute(
                f"UPDATE {table} AS c SET objective = v.objective, objective_reason = v.reason, "
                f"next_action_at = v.next_at, next_action_note = v.note, paused_at = v.paused_at "
                f"FROM plan_case_reasons AS v WHERE c.id = v.id"
            )
        return
    insert_rows(AuditLog, AUDIT_FIELDS, [
        (now, actor_id, "case.objective_changed", "cases.case", str(case_id), case_id,
         {"objective": old[case_id]["objective"], "objective_reason": old[case_id]["objective_reason"]},
         {"objective": objective, "objective_reason": reason, "rule_id": rule_id})
        for case_id, objective, reason, _next_at, _note, rule_id, _paused_at, _paused_by in updates
        if objective != old[case_id]["objective"]
    ])
    for start in range(0, len(updates), 2000):
        chunk = updates[start:start + 2000]
        if connection.vendor == "postgresql":
            values = ", ".join(["(%s, %s, %s::jsonb, %s::timestamptz, %s::jsonb, %s::timestamptz)"] * len(chunk))
            sql = (
                f"UPDATE {table} AS c SET objective = v.objective, objective_reason = v.reason, "
                f"next_action_at = v.next_at, next_action_note = v.note, paused_at = v.paused_at "
                f"FROM (VALUES {values}) AS v(id, objective, reason, next_at, note, paused_at) WHERE c.id = v.id"
            )
            params = []
            for case_id, objective, reason, next_at, note, _rule_id, paused_at, _paused_by in chunk:
                params += [case_id, objective, _json(reason), next_at, _json(note), paused_at]
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
        else:
            objs = [Case(pk=u[0], objective=u[1], objective_reason=u[2], next_action_at=u[3], next_action_note=u[4], paused_at=u[6])
                    for u in chunk]
            Case.objects.bulk_update(objs, ["objective", "objective_reason", "next_action_at", "next_action_note", "paused_at"])
