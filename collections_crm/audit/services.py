from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

from .models import AuditLog


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "as_e164"):  # phone numbers
        return value.as_e164
    return value


def snapshot(obj: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """Field values of ``obj`` as JSON-safe data (foreign keys as ids)."""
    if fields is None:
        fields = [f.attname for f in obj._meta.concrete_fields]
    return {name: _jsonable(getattr(obj, name)) for name in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values changed, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _require_transaction(what: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"{what} must be called inside the transaction of the change.")


def audit_record(
    *,
    actor,
    action: str,
    obj: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    case_id: int | None = None,
    at: dt.datetime | None = None,
) -> AuditLog:
    """Write one audit row. Must run inside the transaction of the change it records."""
    _require_transaction("audit_record")
    if case_id is None:
        case_id = getattr(obj, "case_id", None)
        if case_id is None and obj._meta.label_lower == "cases.case":
            case_id = obj.pk
    return AuditLog.objects.create(
        at=at or timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        case_id=case_id,
        before=before,
        after=after,
    )


# Written over the audited values of personal data (``private`` below): the row says that the
# field changed, not to what.
MASKED = "…"


M = TypeVar("M", bound=models.Model)


def audited_save(
    *,
    obj: M,
    changes: Mapping[str, Any],
    fields: Sequence[str],
    actor,
    action: str,
    at: dt.datetime,
    check: Callable[[M, dict[str, Any]], None] | None = None,
    clean: bool = True,
    clean_exclude: Collection[str] = (),
    validate_unique: bool = True,
    private: Collection[str] = (),
    touch: Collection[str] = (),
    save_unchanged: bool = False,
    case_id: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The audited write of one row, for every service that edits a model: apply ``changes``
    (only the names in ``fields``; the rest are ignored), run ``check(obj, before)`` (the
    caller's business rules: raise ValidationError to refuse, or normalise ``obj``), run
    ``full_clean`` unless ``clean`` is false (``clean_exclude`` and ``validate_unique``, which
    also covers constraints, are passed on), then save and write ONE audit row holding only the
    keys of ``fields`` that changed, as (before, after).

    An unsaved ``obj`` (no pk) is inserted and always audited (``after`` holds the fields that
    are set, not None, and ``before`` the same keys as None). A saved one is written with ``update_fields``: the
    changed fields, the fields named in ``touch`` (set by the caller, saved but not audited, such
    as who changed it) and the model's ``auto_now`` stamps; when nothing changed nothing is saved
    and no row is written, unless ``save_unchanged``: then every field in ``fields`` (and the
    stamps) is written anyway, for a row whose database copy was moved meanwhile or whose stamp
    must move on every call. ``private`` fields are audited as changed without their values.

    Must run inside the caller's transaction (checked before anything is written); a refused
    change writes nothing. Returns (before, after) as written to the audit row, both empty when
    nothing changed."""
    _require_transaction("audited_save")
    creating = obj.pk is None
    before = {} if creating else snapshot(obj, fields)
    for name in fields:
        if name in changes:
            setattr(obj, name, changes[name])
    if check is not None:
        check(obj, before)
    if clean:
        obj.full_clean(exclude=list(clean_exclude) or None, validate_unique=validate_unique,
                       validate_constraints=validate_unique)
    old, new = diff(before, snapshot(obj, fields))
    if creating:
        obj.save()
    elif new or save_unchanged:
        stamps = [f.attname for f in obj._meta.concrete_fields if getattr(f, "auto_now", False)]
        obj.save(update_fields=list(dict.fromkeys([*(fields if save_unchanged else new), *touch, *stamps])))
    if not (creating or new):
        return {}, {}
    if private:
        old = {k: (MASKED if k in private else v) for k, v in old.items()}
        new = {k: (MASKED if k in private else v) for k, v in new.items()}
    audit_record(actor=actor, action=action, obj=obj, before=old or None, after=new, case_id=case_id, at=at)
    return old, new


def audited_delete(*, obj: models.Model, fields: Sequence[str], actor, action: str, at: dt.datetime,
                   case_id: int | None = None) -> None:
    """Delete ``obj`` and write one audit row with its last values of ``fields`` (as ``before``).
    Must run inside the caller's transaction."""
    _require_transaction("audited_delete")
    audit_record(actor=actor, action=action, obj=obj, before=snapshot(obj, fields), case_id=case_id, at=at)
    obj.delete()
