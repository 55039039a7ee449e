from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ImportKind(models.TextChoices):
    PORTFOLIO = "portfolio", _("Debtors and cases")
    PAYMENTS = "payments", _("Payments")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Waiting for column mapping")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Finished")
    REJECTED = "rejected", _("Rejected: nothing imported")
    FAILED = "failed", _("Failed")


class Severity(models.TextChoices):
    REJECTED = "rejected", _("Rejected")
    WARNING = "warning", _("Warning")


class AssignMode(models.TextChoices):
    NONE = "", _("Leave unassigned")
    AGENT = "agent", _("All to one agent")
    ROUND_ROBIN = "round_robin", _("Round-robin across a team")
    BALANCED = "balanced", _("Across a team, fewest open cases first")


class ImportSource(models.TextChoices):
    UPLOAD = "upload", _("Uploaded")
    COMMAND = "command", _("Command line")
    FOLDER = "folder", _("Watched folder")


class AssignmentOptions(models.Model):
    """Who the cases an import creates are given to (a column of the file wins over these)."""

    assign_mode = models.CharField(_("assign new cases"), max_length=12, choices=AssignMode.choices, blank=True, default="")
    assign_agent = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.SET_NULL,
                                     null=True, blank=True, related_name="+")
    assign_team = models.ForeignKey("accounts.Team", verbose_name=_("team"), on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    create_missing_creditors = models.BooleanField(_("create missing creditors"), default=False)

    class Meta:
        abstract = True


class ColumnMapping(models.Model):
    """The last column mapping confirmed for a creditor's files of one kind, offered next time."""

    creditor = models.ForeignKey("cases.Creditor", verbose_name=_("creditor"), on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=ImportKind.choices)
    # {target field: source column header}
    mapping = models.JSONField(_("mapping"), default=dict)
    day_first = models.BooleanField(_("day before month in dates"), default=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("column mapping")
        verbose_name_plural = _("column mappings")
        constraints = [models.UniqueConstraint(fields=["creditor", "kind"], name="mapping_one_per_creditor_kind")]

    def __str__(self) -> str:
        return f"{self.creditor} {self.kind}"


class WatchedFolder(AssignmentOptions):
    """A folder on the server (an SFTP drop box) polled by beat: every file a creditor leaves
    there is imported with the creditor's saved column mapping and moved to done/ or failed/
    with its report beside it."""

    path = models.CharField(_("folder"), max_length=500, unique=True,
                            help_text=_("An absolute path on the server; done/, failed/ and processing/ are made inside it."))
    creditor = models.ForeignKey("cases.Creditor", verbose_name=_("creditor"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=ImportKind.choices, default=ImportKind.PORTFOLIO)
    all_or_nothing = models.BooleanField(_("all or nothing"), default=False)
    active = models.BooleanField(_("active"), default=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("imports run as"), on_delete=models.PROTECT,
                              related_name="+")
    last_polled_at = models.DateTimeField(_("last looked"), null=True, blank=True)
    last_problem = models.CharField(_("last problem"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("watched folder")
        verbose_name_plural = _("watched folders")
        constraints = [models.CheckConstraint(condition=Q(kind__in=ImportKind.values), name="watched_folder_kind_valid")]

    def __str__(self) -> str:
        return self.path


class ImportJob(AssignmentOptions):
    creditor = models.ForeignKey("cases.Creditor", verbose_name=_("creditor"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=ImportKind.choices)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.BigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64)
    file_format = models.CharField(_("format"), max_length=4, choices=[("csv", "CSV"), ("xlsx", "XLSX")])
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=1, blank=True)
    decimal_comma = models.BooleanField(_("decimal comma"), default=False)
    day_first = models.BooleanField(_("day before month in dates"), default=True)
    # The report's reasons are written in the language of the person who started the import.
    language = models.CharField(_("language"), max_length=8, default="es")
    headers = models.JSONField(_("columns"), default=list)
    mapping = models.JSONField(_("mapping"), default=dict)
    all_or_nothing = models.BooleanField(_("all or nothing"), default=False)
    status = models.CharField(_("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    rows_total = models.PositiveIntegerField(_("rows read"), default=0)
    rows_created = models.PositiveIntegerField(_("created"), default=0)
    rows_updated = models.PositiveIntegerField(_("updated"), default=0)
    rows_unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rejected"), default=0)
    # Imported rows with a value that could not be used (a bad phone or e-mail): kept, marked unusable.
    rows_warned = models.PositiveIntegerField(_("imported with warnings"), default=0)
    source = models.CharField(_("source"), max_length=8, choices=ImportSource.choices, default=ImportSource.UPLOAD)
    folder = models.ForeignKey(WatchedFolder, verbose_name=_("watched folder"), on_delete=models.SET_NULL, null=True,
                               blank=True, related_name="jobs")
    # A watched folder's file while its import runs (moved to done/ or failed/ when it ends; "" after).
    folder_file = models.CharField(max_length=1000, blank=True)
    failure = models.CharField(_("failure"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    # The lease of a running job: its worker renews heartbeat_at; ``attempts`` counts the runs and
    # fences them (a run only writes while the job is still running under its own attempt number).
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="import_progress_percent"),
            models.CheckConstraint(condition=Q(kind__in=ImportKind.values), name="import_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=ImportStatus.values), name="import_status_valid"),
        ]
        indexes = [
            # The sweeper: WHERE status='running' AND heartbeat_at < ? (only running jobs are indexed)
            models.Index(fields=["heartbeat_at"], condition=Q(status="running"), name="import_running_heartbeat_idx"),
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.REJECTED, ImportStatus.FAILED)


class ImportRowError(models.Model):
    """A problem of one row (line of the file), one row per problem: why the row was rejected,
    or a warning about a value of a row that was imported all the same."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices, default=Severity.REJECTED,
                                db_default=Severity.REJECTED)
    line = models.PositiveIntegerField(_("line"))
    column = models.CharField(_("column"), max_length=100, blank=True)
    value = models.CharField(_("value"), max_length=200, blank=True)
    message = models.CharField(_("reason"), max_length=300)

    class Meta:
        ordering = ["job", "line", "id"]
        verbose_name = _("rejected row")
        verbose_name_plural = _("rejected rows")
        indexes = [
            # The report, in file order: WHERE job_id=? [AND severity=?] ORDER BY line
            models.Index(fields=["job", "line"], name="import_error_job_line_idx"),
        ]
        constraints = [models.CheckConstraint(condition=Q(severity__in=Severity.values), name="import_error_severity_valid")]

    def __str__(self) -> str:
        return f"{self.line}: {self.message}"
