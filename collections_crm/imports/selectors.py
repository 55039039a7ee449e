"""Reads for the import pages. Only admins reach them, so no per-object visibility here."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import ImportJob, ImportRowError, Severity, WatchedFolder


def import_job_list(*, limit: int = 50) -> QuerySet[ImportJob]:
    """The latest jobs with their creditor (one query)."""
    return ImportJob.objects.select_related("creditor")[:limit]


def import_job_get(*, job_id: int, with_people: bool = False) -> ImportJob:
    """The job, or 404. ``with_people`` joins the creditor and the uploader (the detail page)."""
    jobs = ImportJob.objects.select_related("creditor", "created_by") if with_people else ImportJob.objects.all()
    return get_object_or_404(jobs, pk=job_id)


def import_row_errors(*, job: ImportJob, severity: str | None = None) -> QuerySet[ImportRowError]:
    """The job's problems in file order: rejections, warnings, or (None) both, rejections first."""
    if severity is None:
        # ("rejected" sorts before "warning".)
        return ImportRowError.objects.filter(job=job).order_by("severity", "line", "id")
    return ImportRowError.objects.filter(job=job, severity=severity).order_by("line", "id")


def import_row_warnings_imported(*, job: ImportJob) -> QuerySet[ImportRowError]:
    """The warnings of the lines that were imported (a rejected line's warnings are in the CSV)."""
    rejected = ImportRowError.objects.filter(job=job, severity=Severity.REJECTED).values("line")
    return import_row_errors(job=job, severity=Severity.WARNING).exclude(line__in=rejected)


def watched_folders() -> QuerySet[WatchedFolder]:
    """Every watched folder with its creditor (one query)."""
    return WatchedFolder.objects.select_related("creditor")


def watched_folder_get(*, folder_id: int) -> WatchedFolder:
    return get_object_or_404(WatchedFolder, pk=folder_id)
