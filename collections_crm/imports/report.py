"""An import's report as CSV: every rejected line, then every warning (result, line, column,
value, reason). The page's download, the import_file command and the watched folder all write it."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from .models import ImportJob, Severity
from .selectors import import_row_errors


class _Echo:
    def write(self, value):
        return value


def report_csv_lines(job: ImportJob, *, bom: bool = True) -> Iterator[str]:
    writer = csv.writer(_Echo())
    if bom:
        yield "\ufeff"  # so spreadsheet programs read the file as UTF-8
    yield writer.writerow([_("Result"), _("Line"), _("Column"), _("Value"), _("Reason")])
    labels = {Severity.REJECTED: pgettext("import row", "Rejected"), Severity.WARNING: pgettext("import row", "Warning")}
    for problem in import_row_errors(job=job).iterator(chunk_size=2000):
        yield writer.writerow([labels.get(problem.severity, problem.severity), problem.line, problem.column, problem.value,
                               problem.message])


def report_write(job: ImportJob, path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.writelines(report_csv_lines(job))
