"""Portfolio and payment imports: upload, map, start, run. Pages, API and the Celery task all
go through these functions."""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cases.models import Creditor
from collections_crm.accounts.models import Role, User
from collections_crm.audit.services import audit_record
from collections_crm.core.enqueue import enqueue_on_commit

from . import loader
from .limits import Deadline, FileRefused, limit
from .models import AssignMode, ColumnMapping, ImportJob, ImportKind, ImportRowError, ImportSource, ImportStatus
from .parsing import CsvRows, XlsxRows, detect_decimal_comma, detect_dialect, holds_nul, is_blank
from .rows import AMOUNT_FIELDS, TARGETS, best_sheet, find_header, missing_required, suggest_mapping

log = logging.getLogger(__name__)

XLSX_MAGIC = b"PK\x03\x04"


def _limit_mb() -> float:
    return settings.CRM_IMPORT_MAX_BYTES / 1024 / 1024


def import_job_create(
    *, actor, creditor: Creditor, kind: str, upload, all_or_nothing: bool = False, day_first: bool = True,
    source: str = ImportSource.UPLOAD, folder=None, now: dt.datetime | None = None,
) -> ImportJob:
    """Store the uploaded file, detect its format, encoding and delimiter, read its header and
    propose a column mapping (the creditor's saved one when its columns are all there)."""
    now = now or timezone.now()
    if kind not in ImportKind.values:
        raise ValidationError({"kind": _("Unknown import kind.")})
    if upload.size > settings.CRM_IMPORT_MAX_BYTES:
        raise ValidationError({"file": _("The file is %(size).1f MB; the limit is %(limit).0f MB.") % {
            "size": upload.size / 1024 / 1024, "limit": _limit_mb()}})
    if upload.size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    # (No NUL or other control character of a client's file name reaches the database.)
    name = "".join(c for c in Path(upload.name or "file").name if c.isprintable())[:255] or "file"
    file_format = "xlsx" if head[:4] == XLSX_MAGIC else "csv"
    if problem := _unsupported_format(head):
        raise ValidationError({"file": problem})
    job = ImportJob(
        creditor=creditor, kind=kind, original_name=name, size=upload.size, sha256=digest.hexdigest(),
        file_format=file_format, all_or_nothing=all_or_nothing, day_first=day_first, created_by=actor, created_at=now,
        source=source, folder=folder,
    )
    headers, samples = _inspect(job, upload)
    if not any(headers):
        raise ValidationError({"file": _("No header row was found: the first row must name the columns.")})
    job.headers = headers
    saved = ColumnMapping.objects.filter(creditor=creditor, kind=kind).first()
    if saved and all(h in headers for h in saved.mapping.values()):
        job.mapping, job.day_first = dict(saved.mapping), saved.day_first
    else:
        job.mapping = suggest_mapping(kind, headers)
    job.decimal_comma = _decimal_comma(job, samples)
    upload.seek(0)
    job.file.save(f"{now:%Y%m%d%H%M%S}-{job.sha256[:12]}.{file_format}", upload, save=False)
    with transaction.atomic():
        job.save()
        audit_record(actor=actor, action="import.uploaded", obj=job,
                     after={"creditor_id": creditor.pk, "kind": kind, "size": job.size, "sha256": job.sha256}, at=now)
    return job


def _unsupported_format(head: bytes) -> str:
    """Why a file that is neither CSV nor XLSX is refused, from its first bytes ("" if it may be one)."""
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return _("This is an Excel 97-2003 workbook (.xls): save it as .xlsx or CSV and upload that.")
    if head.startswith(XLSX_MAGIC) and b"application/vnd.oasis.opendocument" in head[:200]:
        return _("This is an OpenDocument spreadsheet (.ods): save it as .xlsx or CSV and upload that.")
    if not head.startswith((XLSX_MAGIC, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and b"\x00" in head:
        return _("This is not a CSV or XLSX file.")
    return ""


def _inspect(job: ImportJob, upload) -> tuple[list[str], list[list]]:
    """Header and up to 200 sample rows, read as a stream within the limits (limits.py): a
    refusal is the file field's error, given in well under a second for a zip bomb, and within
    CRM_IMPORT_INSPECT_SECONDS for anything else."""
    stream = upload.file if hasattr(upload, "file") else upload
    deadline = Deadline(limit("CRM_IMPORT_INSPECT_SECONDS"))
    rows = None
    try:
        if job.file_format == "xlsx":
            try:
                rows = XlsxRows(stream, choose_sheet=partial(best_sheet, job.kind), deadline=deadline)
            except FileRefused:
                raise
            except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds on a damaged workbook
                raise ValidationError({"file": _("This is not a readable XLSX workbook.")}) from exc
            if rows.max_row and rows.max_row > settings.CRM_IMPORT_MAX_ROWS:
                raise ValidationError({"file": _("The sheet has %(n)d rows; the limit is %(limit)d.") % {
                    "n": rows.max_row, "limit": settings.CRM_IMPORT_MAX_ROWS}})
        else:
            dialect = detect_dialect(stream)
            job.encoding, job.delimiter = dialect.encoding, dialect.delimiter
            rows = CsvRows(stream, dialect, deadline=deadline)
        samples: list[list] = []
        try:
            headers, records = find_header(job.kind, rows)
            for _line, cells in records:
                if is_blank(cells):
                    continue
                samples.append(cells)
                if len(samples) >= 200:
                    break
        except (FileRefused, ValidationError):
            raise
        except Exception as exc:  # noqa: BLE001 - csv, zip and XML parsers each raise their own kinds on a damaged file
            raise ValidationError({"file": _("The file could not be read as CSV or XLSX.")}) from exc
    except FileRefused as exc:
        raise ValidationError({"file": str(exc)}) from exc
    finally:
        if isinstance(rows, XlsxRows):
            rows.workbook.close()
    if holds_nul(headers):
        # PostgreSQL cannot store a NUL character: a "text" file of zero bytes, or one read in
        # the wrong encoding (UTF-16 without its mark).
        raise ValidationError({"file": _(
            "The header row holds NUL characters (zero bytes): the file is damaged, or it is not a text file in the "
            "encoding it seems to be (%(encoding)s). Save it again as CSV (UTF-8) or XLSX and upload that.") % {
            "encoding": job.encoding or "XLSX"}})
    stream.seek(0)
    job._samples = samples
    return headers, samples


def _decimal_comma(job: ImportJob, samples: list[list]) -> bool:
    index = {h: i for i, h in enumerate(job.headers)}
    columns = [index[job.mapping[f]] for f in AMOUNT_FIELDS[job.kind] if job.mapping.get(f) in index]
    values = [row[i] for row in samples for i in columns if i < len(row)]
    return detect_decimal_comma(values, delimiter=job.delimiter)


def import_job_preview(*, job: ImportJob, limit: int = 20) -> list[dict]:
    """The first rows as the import will read them: clean values or the reasons for rejection,
    and the warnings about values kept as unusable."""
    from .rows import payment_row, portfolio_row

    row_fn = portfolio_row if job.kind == ImportKind.PORTFOLIO else payment_row
    source = loader.Source(job)
    try:
        headers, records = source.header_and_records(limit=limit)
        ctx = loader.row_context(job, headers, today=timezone.localdate())
        result = []
        # As the import's own check: a good row whose reference a good earlier row already has.
        names = [name for name, _type in loader.PORTFOLIO_STAGE_COLUMNS]
        key_at = [names.index("creditor_id"), names.index("creditor_new"), names.index("reference")]
        seen: set[tuple] = set()
        for line, cells in records:
            if problem := source.may_hold_nul and loader.nul_error(headers, cells):
                result.append({"line": line, "cells": [_shown(c) for c in cells], "ok": False, "errors": [problem], "warnings": []})
                continue
            row = row_fn(ctx, cells)
            errors, warnings = list(ctx.errors), list(ctx.warnings)
            if row is not None and job.kind == ImportKind.PORTFOLIO:
                key = tuple(row[i] for i in key_at)
                if key in seen:
                    errors.append((loader._reference_header(job), key[-1], loader.duplicate_reference_message()))
                    row = None
                else:
                    seen.add(key)
            result.append({"line": line, "cells": [_shown(c) for c in cells], "ok": row is not None, "errors": errors,
                           "warnings": warnings})
        return result
    finally:
        source.close()


def _shown(cell):
    """A spreadsheet's date cell comes as a datetime at midnight: shown as the date it is."""
    if isinstance(cell, dt.datetime) and cell.time() == dt.time(0):
        return cell.date()
    return cell


def assignment_check(*, assign_mode: str, assign_agent, assign_team) -> dict[str, str]:
    """Field errors of an import's assignment option (the upload form, the command and the
    watched folder share it)."""
    errors = {}
    if assign_mode not in AssignMode.values:
        errors["assign_mode"] = _("Unknown way of assigning cases.")
    elif assign_mode == AssignMode.AGENT and (assign_agent is None or assign_agent.role != Role.AGENT or not assign_agent.is_active):
        errors["assign_agent"] = _("Choose an active agent.")
    elif assign_mode in (AssignMode.ROUND_ROBIN, AssignMode.BALANCED):
        if assign_team is None:
            errors["assign_team"] = _("Choose a team.")
        elif not User.objects.filter(team=assign_team, role=Role.AGENT, is_active=True).exists():
            errors["assign_team"] = _("This team has no active agents.")
    return errors


def import_job_configure(
    *, actor, job_id: int, mapping: dict[str, str], day_first: bool, decimal_comma: bool, all_or_nothing: bool,
    create_missing_creditors: bool = False, assign_mode: str = "", assign_agent=None, assign_team=None,
) -> ImportJob:
    """Set the column mapping (and remember it for the creditor), and how the new cases are assigned."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status != ImportStatus.UPLOADED:
            raise ValidationError(_("This import has already started."))
        targets = {t.name for t in TARGETS[job.kind]}
        mapping = {k: v for k, v in mapping.items() if v and k in targets}
        errors = {}
        unknown = [v for v in mapping.values() if v not in job.headers]
        if unknown:
            errors["mapping"] = _("These columns are not in the file: %(cols)s") % {"cols": ", ".join(unknown)}
        missing = missing_required(job.kind, mapping)
        if missing:
            errors["mapping"] = _("Choose a column for: %(fields)s") % {"fields": ", ".join(missing)}
        if len(set(mapping.values())) != len(mapping):
            errors["mapping"] = _("A column can feed only one field.")
        errors |= assignment_check(assign_mode=assign_mode, assign_agent=assign_agent, assign_team=assign_team)
        if errors:
            raise ValidationError(errors)
        job.mapping, job.day_first, job.decimal_comma, job.all_or_nothing = mapping, day_first, decimal_comma, all_or_nothing
        job.create_missing_creditors, job.assign_mode = create_missing_creditors, assign_mode
        job.assign_agent = assign_agent if assign_mode == AssignMode.AGENT else None
        job.assign_team = assign_team if assign_mode in (AssignMode.ROUND_ROBIN, AssignMode.BALANCED) else None
        job.save(update_fields=["mapping", "day_first", "decimal_comma", "all_or_nothing", "create_missing_creditors",
                                "assign_mode", "assign_agent", "assign_team"])
        ColumnMapping.objects.update_or_create(
            creditor=job.creditor, kind=job.kind, defaults={"mapping": mapping, "day_first": day_first, "updated_by": actor}
        )
        audit_record(actor=actor, action="import.mapped", obj=job, after={
            "mapping": mapping, "all_or_nothing": all_or_nothing, "create_missing_creditors": create_missing_creditors,
            "assign_mode": assign_mode, "assign_agent_id": job.assign_agent_id, "assign_team_id": job.assign_team_id})
    return job


def import_job_start(*, actor, job_id: int, now: dt.datetime | None = None, enqueue: bool = True) -> ImportJob:
    """Queue the import; the worker picks it up after this transaction commits (``enqueue=False``:
    the caller runs it itself, as the import_file command does)."""
    from .tasks import run_import

    now = now or timezone.now()
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status != ImportStatus.UPLOADED:
            raise ValidationError(_("This import has already started."))
        missing = missing_required(job.kind, job.mapping)
        if missing:
            raise ValidationError({"mapping": _("Choose a column for: %(fields)s") % {"fields": ", ".join(missing)}})
        job.status = ImportStatus.QUEUED
        job.language = translation.get_language() or settings.LANGUAGE_CODE
        job.save(update_fields=["status", "language"])
        audit_record(actor=actor, action="import.started", obj=job, after={"status": job.status}, at=now)
        if enqueue:
            enqueue_on_commit(run_import, job.pk)
    return job


class LeaseLost(Exception):
    """This run no longer owns the job (the sweeper gave it to another run): undo, write nothing."""


def _running(job_id: int, attempt: int):
    """The job, only while this run (attempt) still holds it."""
    return ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING, attempts=attempt)


def _set_progress(job_id: int, attempt: int, fraction: float) -> None:
    _running(job_id, attempt).update(progress=min(99, max(0, int(fraction * 100))), heartbeat_at=timezone.now())


class _Heartbeat:
    """Renews the job's lease from a thread (with its own database connection) while the run
    works, including inside the long apply transaction where progress cannot be committed. If
    the worker process dies, the beats stop and the sweeper takes the job back. PostgreSQL only:
    SQLite would make the thread and the run wait for each other's locks."""

    def __init__(self, job_id: int, attempt: int):
        self.job_id, self.attempt = job_id, attempt
        self.every = max(1.0, settings.CRM_IMPORT_LEASE_SECONDS / 4)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"import-{job_id}-heartbeat", daemon=True)

    def _run(self) -> None:
        from django.db import connections

        try:
            while not self.stop.wait(self.every):
                _running(self.job_id, self.attempt).update(heartbeat_at=timezone.now())
        except Exception:  # noqa: BLE001 - a missed beat is the sweeper's business, not the run's
            log.warning("Import %s: heartbeat failed", self.job_id, exc_info=True)
        finally:
            connections.close_all()

    def __enter__(self):
        if connection.vendor == "postgresql":
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()


def import_job_run(*, job_id: int, strategy: str | None = None, now: dt.datetime | None = None,
                   on_progress: Callable[[float], None] | None = None) -> ImportJob | None:
    """Run a queued import. Safe to call twice: only the caller that moves it from queued to
    running does the work, and it writes its outcome only while it still holds the job (see
    import_jobs_sweep). ``strategy`` is "copy" (PostgreSQL) or "batch" (any database)."""
    now = now or timezone.now()
    if not ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now, progress=0, attempts=F("attempts") + 1,
    ):
        return None
    job = ImportJob.objects.select_related("creditor", "created_by").get(pk=job_id)
    attempt = job.attempts
    if attempt > 1:  # what an earlier, interrupted run reported is redone from the start
        ImportRowError.objects.filter(job_id=job_id).delete()
    strategy = strategy or ("copy" if connection.vendor == "postgresql" else "batch")
    run = loader.run_portfolio if job.kind == ImportKind.PORTFOLIO else loader.run_payments

    def finish(counts: dict[str, int]) -> None:
        """In the transaction that applied the file: the outcome, or undo if the lease was lost."""
        rejected_all = counts["rejected"] and job.all_or_nothing
        if not _running(job_id, attempt).update(
            status=ImportStatus.REJECTED if rejected_all else ImportStatus.DONE, progress=100, finished_at=timezone.now(),
            rows_total=counts["total"], rows_created=counts["created"], rows_updated=counts["updated"],
            rows_unchanged=counts["unchanged"], rows_rejected=counts["rejected"], rows_warned=counts["warned"],
        ):
            raise LeaseLost(job_id)
        job.refresh_from_db()
        audit_record(actor=job.created_by, action="import.finished", obj=job, at=timezone.now(), after={
            k: counts[k] for k in ("total", "created", "updated", "unchanged", "rejected", "warned")} | {"status": job.status, "attempt": attempt})
        if job.kind == ImportKind.PORTFOLIO and job.status == ImportStatus.DONE and (counts["created"] or counts["updated"]):
            from .tasks import plan_imported_cases

            enqueue_on_commit(plan_imported_cases, job_id)

    try:
        with translation.override(job.language), _Heartbeat(job_id, attempt):
            def progress(fraction: float) -> None:
                _set_progress(job_id, attempt, fraction)
                if on_progress is not None:
                    on_progress(fraction)

            run(job, now=now, strategy=strategy, on_progress=progress, finish=finish)
    except LeaseLost:
        log.warning("Import %s: attempt %s lost its lease; its work was undone", job_id, attempt)
        return None
    except FileRefused as exc:  # past a limit of limits.py (a zip bomb, an endless line): refused, not crashed
        log.warning("Import %s refused: %s", job_id, type(exc.__cause__ or exc).__name__)
        _running(job_id, attempt).update(
            status=ImportStatus.FAILED, finished_at=timezone.now(),
            failure=f"{exc} {_('Nothing was imported.')}"[:500],
        )
        return ImportJob.objects.get(pk=job_id)
    except loader.TooManyRows as exc:
        _running(job_id, attempt).update(
            status=ImportStatus.FAILED, finished_at=timezone.now(),
            failure=_("The file has more than %(limit)d rows; split it. Nothing was imported.") % {"limit": exc.args[0]},
        )
        return ImportJob.objects.get(pk=job_id)
    except Exception:
        log.exception("Import %s failed", job_id)  # ids only: no file content in logs
        _running(job_id, attempt).update(
            status=ImportStatus.FAILED, failure=_("The import stopped on an unexpected error; nothing was imported."),
            finished_at=timezone.now(),
        )
        raise
    return job


def import_jobs_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Take back the running imports whose worker stopped beating for a whole lease: queue them
    again (staging is rebuilt and the apply step is one transaction, so a run that died left
    nothing half-written but its partial report, which is removed), or, after
    CRM_IMPORT_MAX_ATTEMPTS runs, mark them failed. Each job is claimed with a conditional update
    on the beat that was found stale, so two sweepers, or a beat arriving meanwhile, never clash."""
    from .tasks import run_import

    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.CRM_IMPORT_LEASE_SECONDS)
    stale = list(
        ImportJob.objects.filter(status=ImportStatus.RUNNING)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
        .values_list("pk", "attempts", "heartbeat_at")
    )
    result = {"requeued": 0, "failed": 0}
    for job_id, attempts, beat in stale:
        claim = _running(job_id, attempts).filter(heartbeat_at=beat) if beat else _running(job_id, attempts).filter(heartbeat_at__isnull=True)
        with transaction.atomic():
            if attempts < settings.CRM_IMPORT_MAX_ATTEMPTS:
                if not claim.update(status=ImportStatus.QUEUED, progress=0, heartbeat_at=None):
                    continue
                outcome, after = "requeued", {"status": ImportStatus.QUEUED, "attempt": attempts}
                enqueue_on_commit(run_import, job_id)
            else:
                job = ImportJob.objects.only("language").get(pk=job_id)
                with translation.override(job.language):
                    failure = _("The import stopped %(n)d times without finishing (its worker stopped responding); "
                                "nothing was imported. Upload the file again or ask an administrator.") % {"n": attempts}
                if not claim.update(status=ImportStatus.FAILED, finished_at=now, heartbeat_at=None, failure=failure):
                    continue
                outcome, after = "failed", {"status": ImportStatus.FAILED, "attempt": attempts}
                loader.drop_stage(job_id)
            ImportRowError.objects.filter(job_id=job_id).delete()
            audit_record(actor=None, action=f"import.lease_expired_{outcome}", obj=ImportJob.objects.get(pk=job_id), at=now,
                         after=after | {"last_heartbeat": beat.isoformat() if beat else None})
        log.warning("Import %s: no heartbeat since %s, %s (attempt %s)", job_id, beat, outcome, attempts)
        result[outcome] += 1
    return result


def import_job_plan_cases(*, job_id: int, batch: int = 5000) -> int:
    """Hand the cases a portfolio import created or changed to the follow-up engine, in
    batches (the import itself writes them in bulk, without planning each one)."""
    from collections_crm.audit.models import AuditLog
    from contacts.engine import followups_plan

    job = ImportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None:  # deleted since the task was queued: nothing left to plan
        return 0
    # The import's audit rows all carry its start time (indexed), which finds its cases.
    case_ids = (
        AuditLog.objects.filter(at=job.started_at, object_type="cases.case",
                                action__in=["case.created", "case.balance_imported", "case.assigned"])
        .order_by("case_id").values_list("case_id", flat=True).distinct()
    )
    planned, last = 0, 0
    while ids := list(case_ids.filter(case_id__gt=last)[:batch]):
        followups_plan(case_ids=ids, now=timezone.now(), actor=job.created_by)
        planned += len(ids)
        last = ids[-1]
    return planned


def import_job_create_from_path(*, actor, path: Path, creditor: Creditor, kind: str, all_or_nothing: bool = False,
                                source: str, folder=None) -> ImportJob:
    """An import of a file on the server's disk (the import_file command, a watched folder),
    stored and inspected as an upload is; the caller then configures it (import_job_configure)."""
    from django.core.files import File

    with open(path, "rb") as handle:
        upload = File(handle, name=path.name)
        upload.size = path.stat().st_size
        return import_job_create(actor=actor, creditor=creditor, kind=kind, upload=upload, all_or_nothing=all_or_nothing,
                                 source=source, folder=folder)


def import_job_fail(*, job_id: int, reason: str, now: dt.datetime | None = None) -> None:
    """Mark a job that never started as failed (a watched folder's file whose columns cannot be
    mapped), with its reason; nothing was imported."""
    now = now or timezone.now()
    with transaction.atomic():
        if ImportJob.objects.filter(pk=job_id, status=ImportStatus.UPLOADED).update(
                status=ImportStatus.FAILED, failure=reason[:500], finished_at=now):
            audit_record(actor=None, action="import.failed", obj=ImportJob.objects.get(pk=job_id), after={"failure": reason[:500]}, at=now)
