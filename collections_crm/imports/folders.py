"""Watched folders: files a creditor drops (by SFTP) into a folder on the server are imported
with the creditor's saved column mapping, then moved to done/ or failed/ with their report.

Each beat tick (``folders_poll``):
1. files whose import has finished are moved out of processing/ into done/ (finished) or failed/
   (rejected as a whole, or failed), with ``<name>.report.csv`` beside them;
2. every file in the folder itself that has not changed for CRM_IMPORT_FOLDER_SETTLE_SECONDS
   (an upload still being written is left alone) is claimed by renaming it into processing/
   (a rename is atomic: two ticks never take one file), then imported through the same
   services as an upload. A file already imported (same contents, same creditor and kind, not
   failed) is not imported again: it goes to done/ with a note saying which import it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from collections_crm.audit.services import audit_record, snapshot

from .models import ImportJob, ImportSource, ImportStatus, WatchedFolder
from .report import report_write

log = logging.getLogger(__name__)

SUBFOLDERS = ("processing", "done", "failed")
_SKIPPED_SUFFIXES = (".part", ".tmp", ".filepart", ".crdownload", ".report.csv", ".note.txt")


def folders_poll(*, now: dt.datetime | None = None) -> dict[str, int]:
    """One tick over every active watched folder. Returns what it did, summed."""
    now = now or timezone.now()
    result = {"started": 0, "finished": 0, "duplicates": 0, "failed": 0}
    for folder in WatchedFolder.objects.filter(active=True).select_related("creditor", "owner", "assign_agent", "assign_team"):
        try:
            with translation.override(folder.owner.language or settings.LANGUAGE_CODE):
                for key, value in folder_poll(folder=folder, now=now).items():
                    result[key] += value
            problem = ""
        except OSError as exc:  # the folder is missing or not writable: said on the admin's page
            problem = f"{type(exc).__name__}: {exc.strerror or exc}"
            log.warning("Watched folder %s: %s", folder.pk, type(exc).__name__)
        WatchedFolder.objects.filter(pk=folder.pk).update(last_polled_at=now, last_problem=problem[:500])
    return result


def _unique(target: Path) -> Path:
    """``target``, or the same name with a counter if a file of that name is already there."""
    candidate, n = target, 1
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.stem} ({n}){target.suffix}")
    return candidate


def _settled(path: Path, now: dt.datetime) -> bool:
    age = now.timestamp() - path.stat().st_mtime
    return age >= settings.CRM_IMPORT_FOLDER_SETTLE_SECONDS


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def folder_poll(*, folder: WatchedFolder, now: dt.datetime) -> dict[str, int]:
    root = Path(folder.path)
    for name in SUBFOLDERS:
        (root / name).mkdir(exist_ok=True)
    result = {"started": 0, "finished": 0, "duplicates": 0, "failed": 0}
    # 1. Imports that have finished since the last tick.
    for job in ImportJob.objects.filter(folder=folder).exclude(folder_file="").filter(
            status__in=[ImportStatus.DONE, ImportStatus.REJECTED, ImportStatus.FAILED]):
        _file_away(job, root)
        result["finished"] += 1
    # 2. New files.
    for path in sorted(p for p in root.iterdir() if p.is_file()):
        if path.name.startswith(".") or path.name.lower().endswith(_SKIPPED_SUFFIXES) or not _settled(path, now):
            continue
        claimed = _unique(root / "processing" / path.name)
        try:
            os.rename(path, claimed)
        except FileNotFoundError:  # another tick took it
            continue
        outcome = _import(folder, root, claimed, now=now)
        result[outcome] += 1
    return result


def _import(folder: WatchedFolder, root: Path, path: Path, *, now: dt.datetime) -> str:
    from . import services

    sha = _sha256(path)
    earlier = (ImportJob.objects.filter(creditor=folder.creditor, kind=folder.kind, sha256=sha)
               .exclude(status=ImportStatus.FAILED).order_by("pk").first())
    if earlier is not None:
        target = _unique(root / "done" / path.name)
        os.rename(path, target)
        target.with_name(target.name + ".note.txt").write_text(_(
            "This file was already imported as import #%(job)d (%(name)s, %(when)s): nothing was done.\n") % {
            "job": earlier.pk, "name": earlier.original_name, "when": earlier.created_at.isoformat(timespec="minutes")},
            encoding="utf-8")
        audit_record(actor=folder.owner, action="import.duplicate_skipped", obj=earlier, at=now,
                     after={"folder_id": folder.pk, "file": path.name[:200]})
        return "duplicates"
    try:
        job = services.import_job_create_from_path(actor=folder.owner, path=path, creditor=folder.creditor, kind=folder.kind,
                                                   all_or_nothing=folder.all_or_nothing, source=ImportSource.FOLDER, folder=folder)
    except ValidationError as exc:  # not a CSV or XLSX file, too large, empty…: no job
        target = _unique(root / "failed" / path.name)
        os.rename(path, target)
        target.with_name(target.name + ".note.txt").write_text(" ".join(exc.messages) + "\n", encoding="utf-8")
        return "failed"
    ImportJob.objects.filter(pk=job.pk).update(folder_file=str(path))
    try:
        # The creditor's saved mapping when the file has its columns, else the suggested one.
        services.import_job_configure(
            actor=folder.owner, job_id=job.pk, mapping=job.mapping, day_first=job.day_first, decimal_comma=job.decimal_comma,
            all_or_nothing=folder.all_or_nothing, create_missing_creditors=folder.create_missing_creditors,
            assign_mode=folder.assign_mode, assign_agent=folder.assign_agent, assign_team=folder.assign_team,
        )
    except ValidationError as exc:
        services.import_job_fail(job_id=job.pk, reason=" ".join(exc.messages) + " " + _(
            "Import one file of this creditor from the Imports page and map its columns: the mapping is saved for the next files."),
            now=now)
        _file_away(ImportJob.objects.get(pk=job.pk), root)
        return "failed"
    services.import_job_start(actor=folder.owner, job_id=job.pk, now=now)
    return "started"


def _file_away(job: ImportJob, root: Path) -> None:
    """Move a finished job's file to done/ or failed/ with its report (and the failure, if any)."""
    source = Path(job.folder_file)
    target = _unique(root / ("done" if job.status == ImportStatus.DONE else "failed") / source.name)
    if source.exists():
        os.rename(source, target)
    report_write(job, target.with_name(target.name + ".report.csv"))
    if job.failure:
        target.with_name(target.name + ".note.txt").write_text(job.failure + "\n", encoding="utf-8")
    ImportJob.objects.filter(pk=job.pk).update(folder_file="")


FOLDER_FIELDS = ["path", "creditor_id", "kind", "all_or_nothing", "active", "create_missing_creditors", "assign_mode",
                 "assign_agent_id", "assign_team_id"]


def folder_path_check(path: str) -> str:
    """The folder's absolute path, created if missing, or a ValidationError on ``path``: it must lie
    inside CRM_IMPORT_FOLDER_ROOT."""
    root = Path(settings.CRM_IMPORT_FOLDER_ROOT).resolve()
    candidate = Path(path).expanduser()
    resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if resolved != root and root not in resolved.parents:
        raise ValidationError({"path": _("The folder must be inside %(root)s.") % {"root": root}})
    try:
        resolved.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError({"path": _("The folder cannot be created: %(why)s") % {"why": exc.strerror or exc}}) from exc
    return str(resolved)


def watched_folder_save(*, actor, folder: WatchedFolder | None = None, **fields) -> WatchedFolder:
    """Create or change a watched folder (audited); its path and assignment are checked."""
    from django.db import transaction

    from .services import assignment_check

    fields["path"] = folder_path_check(fields["path"])
    if errors := assignment_check(assign_mode=fields.get("assign_mode", ""), assign_agent=fields.get("assign_agent"),
                                  assign_team=fields.get("assign_team")):
        raise ValidationError(errors)
    creating = folder is None
    folder = folder or WatchedFolder(owner=actor)
    before = {} if creating else snapshot(folder, FOLDER_FIELDS)
    for name, value in fields.items():
        setattr(folder, name, value)
    with transaction.atomic():
        if WatchedFolder.objects.exclude(pk=folder.pk).filter(path=folder.path).exists():
            raise ValidationError({"path": _("This folder is already watched.")})
        folder.save()
        audit_record(actor=actor, action="import.folder_created" if creating else "import.folder_changed", obj=folder,
                     before=before or None, after=snapshot(folder, FOLDER_FIELDS))
    return folder


def watched_folder_delete(*, actor, folder: WatchedFolder) -> None:
    """Stop watching a folder (its files and the imports it started stay)."""
    from django.db import transaction

    with transaction.atomic():
        audit_record(actor=actor, action="import.folder_deleted", obj=folder, before=snapshot(folder, FOLDER_FIELDS))
        folder.delete()
