"""Import a file from the server's disk, as the Imports page does, with progress on the terminal.

    manage.py import_file cartera.csv --creditor banco --kind portfolio [--mapping m.json]
        [--all-or-nothing] [--dry-run] [--report report.csv] [--fail-on-rejections]
        [--user admin] [--create-missing-creditors] [--assign-agent ana | --assign-team T --assign-mode round_robin]

Exit status: 0 done; 1 with --fail-on-rejections when a row was rejected (or the whole file, all
or nothing); 2 when nothing could be imported (unreadable file, unmappable columns, a failure).
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from cases.models import Creditor
from collections_crm.accounts.models import Role, Team, User
from collections_crm.imports import services
from collections_crm.imports.models import AssignMode, ImportKind, ImportSource, ImportStatus
from collections_crm.imports.report import report_write


class _DryRun(Exception):
    """Rolls the whole run back once its figures and report are out."""


class Command(BaseCommand):
    help = "Import a portfolio or payments file (CSV or XLSX) from disk, through the same service as the Imports page."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--creditor", required=True, help="The creditor's code (the default creditor of every row).")
        parser.add_argument("--kind", choices=ImportKind.values, default=ImportKind.PORTFOLIO)
        parser.add_argument("--mapping", type=Path, help='JSON: {"reference": "Referencia", ...}, or {"mapping": {...}, '
                                                         '"day_first": true, "decimal_comma": true}. Default: the saved or suggested one.')
        parser.add_argument("--all-or-nothing", action="store_true", help="Import no row if any row is rejected.")
        parser.add_argument("--dry-run", action="store_true", help="Check everything and write the report; keep nothing.")
        parser.add_argument("--report", type=Path, help="Where to write the report CSV (default: beside the file, .report.csv).")
        parser.add_argument("--fail-on-rejections", action="store_true", help="Exit with status 1 if any row was rejected.")
        parser.add_argument("--user", help="The administrator the import runs as (default: the first active one).")
        parser.add_argument("--create-missing-creditors", action="store_true")
        parser.add_argument("--assign-mode", choices=[m for m in AssignMode.values if m], default="")
        parser.add_argument("--assign-agent", help="User name of the agent (with --assign-mode agent).")
        parser.add_argument("--assign-team", help="Team name (with --assign-mode round_robin or balanced).")

    def handle(self, *args, **options):
        path: Path = options["path"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file.", returncode=2)
        creditor = Creditor.objects.filter(code=options["creditor"]).first()
        if creditor is None:
            raise CommandError(f"No creditor has the code {options['creditor']!r}.", returncode=2)
        actor = self._actor(options["user"])
        mapping, day_first, decimal_comma = self._mapping(options["mapping"])
        assign_agent = User.objects.filter(username=options["assign_agent"]).first() if options["assign_agent"] else None
        assign_team = Team.objects.filter(name=options["assign_team"]).first() if options["assign_team"] else None
        if not options["assign_mode"]:  # an agent or a team named alone says how
            options["assign_mode"] = AssignMode.AGENT if assign_agent else AssignMode.ROUND_ROBIN if assign_team else ""
        report_path: Path = options["report"] or path.with_name(path.name + ".report.csv")
        try:
            # A dry run is the real run in one transaction that is then rolled back.
            with transaction.atomic() if options["dry_run"] else contextlib.nullcontext():
                job = self._run(path, creditor, actor, options, mapping, day_first, decimal_comma, assign_agent, assign_team)
                report_write(job, report_path)
                self._summary(job, report_path, dry_run=options["dry_run"])
                if options["dry_run"]:
                    stored = job.file.name
                    raise _DryRun(stored)
        except _DryRun as dry:
            from django.core.files.storage import default_storage

            default_storage.delete(dry.args[0])
        if job.status == ImportStatus.FAILED:
            raise CommandError(job.failure or "The import failed.", returncode=2)
        if options["fail_on_rejections"] and (job.rows_rejected or job.status == ImportStatus.REJECTED):
            sys.exit(1)

    def _run(self, path, creditor, actor, options, mapping, day_first, decimal_comma, assign_agent, assign_team):
        try:
            job = services.import_job_create_from_path(actor=actor, path=path, creditor=creditor, kind=options["kind"],
                                                       all_or_nothing=options["all_or_nothing"], source=ImportSource.COMMAND)
            # The given mapping, else the creditor's saved one or the suggested one (the job's).
            services.import_job_configure(
                actor=actor, job_id=job.pk, mapping=job.mapping if mapping is None else mapping,
                day_first=job.day_first if day_first is None else day_first,
                decimal_comma=job.decimal_comma if decimal_comma is None else decimal_comma,
                all_or_nothing=options["all_or_nothing"], create_missing_creditors=options["create_missing_creditors"],
                assign_mode=options["assign_mode"], assign_agent=assign_agent, assign_team=assign_team,
            )
            services.import_job_start(actor=actor, job_id=job.pk, enqueue=False)
        except ValidationError as exc:
            problems = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" if k else " ".join(v) for k, v in problems.items()), returncode=2) from exc
        self.stderr.write(f"Import #{job.pk}: {path.name} ({job.file_format}, {job.size:,} bytes)")
        last = [-1]

        def progress(fraction: float) -> None:
            percent = int(fraction * 100)
            if percent >= last[0] + 5:
                last[0] = percent
                self.stderr.write(f"  {percent:3d} %")

        services.import_job_run(job_id=job.pk, on_progress=progress)
        job.refresh_from_db()
        return job

    def _summary(self, job, report_path: Path, *, dry_run: bool) -> None:
        prefix = "Dry run (nothing kept): " if dry_run else ""
        self.stdout.write(
            f"{prefix}{job.get_status_display()}. Rows read {job.rows_total}, created {job.rows_created}, updated {job.rows_updated}, "
            f"unchanged {job.rows_unchanged}, with warnings {job.rows_warned}, rejected {job.rows_rejected}.")
        if job.failure:
            self.stdout.write(job.failure)
        self.stdout.write(f"Report: {report_path}")

    def _actor(self, username: str | None) -> User:
        admins = User.objects.filter(role=Role.ADMIN, is_active=True)
        actor = admins.filter(username=username).first() if username else admins.order_by("pk").first()
        if actor is None:
            raise CommandError(f"No active administrator {username!r}." if username else "There is no active administrator.", returncode=2)
        return actor

    def _mapping(self, path: Path | None):
        if path is None:
            return None, None, None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"{path}: not a readable JSON file ({exc}).", returncode=2) from exc
        if not isinstance(data, dict):
            raise CommandError(f"{path}: the mapping must be a JSON object.", returncode=2)
        if isinstance(data.get("mapping"), dict):
            return data["mapping"], data.get("day_first"), data.get("decimal_comma")
        return data, None, None
