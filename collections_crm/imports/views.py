from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from collections_crm.accounts.access import role_required
from collections_crm.accounts.models import Role

from . import folders, selectors, services
from .forms import MappingForm, UploadForm, WatchedFolderForm
from .models import ImportStatus, Severity
from .report import report_csv_lines
from .rows import TARGETS

REPORT_PREVIEW = 200


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def import_list(request):
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = services.import_job_create(
                actor=request.user, creditor=form.cleaned_data["creditor"], kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            return redirect("imports:detail", pk=job.pk)
    return _list_page(request, form=form)


def _list_page(request, *, form=None, folder_form=None, status=200):
    # Queries: session, user, jobs with creditor (one join), folders (one join), the forms' selects.
    return render(request, "imports/import_list.html", {
        "form": form or UploadForm(), "jobs": selectors.import_job_list(limit=50),
        "folders": selectors.watched_folders(), "folder_form": folder_form or WatchedFolderForm(prefix="folder"),
    }, status=status)


@role_required(Role.ADMIN)
@require_http_methods(["POST"])
def folder_save(request, pk: int | None = None):
    """Add a watched folder (or change one: pk)."""
    folder = selectors.watched_folder_get(folder_id=pk) if pk else None
    form = WatchedFolderForm(request.POST, prefix="folder", instance=folder)
    if form.is_valid():
        try:
            folders.watched_folder_save(actor=request.user, folder=folder, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The folder is watched: files dropped there are imported within a minute."))
            return redirect("imports:list")
    return _list_page(request, folder_form=form, status=400)


@role_required(Role.ADMIN)
@require_http_methods(["POST"])
def folder_delete(request, pk: int):
    folders.watched_folder_delete(actor=request.user, folder=selectors.watched_folder_get(folder_id=pk))
    messages.success(request, _("The folder is no longer watched; its files stay where they are."))
    return redirect("imports:list")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def import_detail(request, pk: int):
    job = selectors.import_job_get(job_id=pk, with_people=True)
    context = {"job": job}
    if job.status == ImportStatus.UPLOADED:
        form = MappingForm(request.POST or None, job=job)
        if request.method == "POST" and form.is_valid():
            try:
                services.import_job_configure(actor=request.user, job_id=job.pk, mapping=form.mapping(), **form.options())
                if "start" in request.POST:
                    services.import_job_start(actor=request.user, job_id=job.pk)
                    messages.success(request, _("The import is running; this page follows its progress."))
                return redirect("imports:detail", pk=job.pk)
            except ValidationError as exc:
                _form_errors(form, exc)
        context["form"] = form
        context["preview"] = services.import_job_preview(job=job)
        # Each column's header with the field it feeds, as the last saved mapping says.
        labels = {header: target.label for target in TARGETS[job.kind] if (header := job.mapping.get(target.name))}
        context["columns"] = [(header, labels.get(header)) for header in job.headers]
    elif job.finished:
        # Queries: each list is sliced, so a million problems cost two bounded reads.
        context["errors"] = selectors.import_row_errors(job=job, severity=Severity.REJECTED)[:REPORT_PREVIEW]
        context["warnings"] = selectors.import_row_warnings_imported(job=job)[:REPORT_PREVIEW]
    return render(request, "imports/import_detail.html", context)


@role_required(Role.ADMIN)
def import_progress(request, pk: int):
    """The progress fragment, polled by htmx while the import runs."""
    job = selectors.import_job_get(job_id=pk)
    response = render(request, "imports/_progress.html", {"job": job})
    if job.finished:
        response["HX-Refresh"] = "true"  # show the full report
    return response


@role_required(Role.ADMIN)
def import_report(request, pk: int):
    """Every rejected row, then every warning, as CSV (result, line, column, value, reason), streamed."""
    job = selectors.import_job_get(job_id=pk)
    response = StreamingHttpResponse(report_csv_lines(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response

