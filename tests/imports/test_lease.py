"""The lease of a running import: a job whose worker died is queued again by the sweeper (and
then imports exactly once), or failed after the last attempt; a run that lost its lease undoes
its work. The worker's death is simulated by the state it leaves behind (running, an old
heartbeat, a partial report, a staging table); test_worker.py kills a real worker."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone, translation

from cases.models import Case
from collections_crm.audit.models import AuditLog
from collections_crm.imports import loader, services
from collections_crm.imports.models import ImportJob, ImportRowError, ImportStatus
from collections_crm.imports.services import import_job_run, import_job_start, import_jobs_sweep
from debtors.models import Debtor

from .test_loader import MESSY, errors_of

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2025, 3, 3, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def settings_lease(settings):
    settings.CRM_IMPORT_LEASE_SECONDS = 120
    settings.CRM_IMPORT_MAX_ATTEMPTS = 3
    return settings


def died_while_running(job, *, attempts: int, beat: dt.datetime | None) -> None:
    """What a worker killed in the middle of a run leaves: the job running under its attempt, an
    old heartbeat, part of the report, and its staging table."""
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, attempts=attempts, heartbeat_at=beat,
                                               started_at=beat or NOW - dt.timedelta(hours=1), progress=40)
    ImportRowError.objects.create(job=job, line=4, column="DNI/NIF", value="x", message="partial report of the dead run")
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE imports_stage_{job.pk} (line integer PRIMARY KEY)")


def stage_exists(job) -> bool:
    return f"imports_stage_{job.pk}" in connection.introspection.table_names()


def test_a_job_whose_worker_died_is_queued_again_and_then_imports_once(upload, admin_user, settings_lease,
                                                                        django_capture_on_commit_callbacks, monkeypatch):
    job = upload(MESSY)
    import_job_start(actor=admin_user, job_id=job.pk)
    died_while_running(job, attempts=1, beat=NOW - dt.timedelta(seconds=121))
    alive = upload(MESSY, name="alive.csv")
    ImportJob.objects.filter(pk=alive.pk).update(status=ImportStatus.RUNNING, attempts=1, heartbeat_at=NOW - dt.timedelta(seconds=100))

    queued = []
    monkeypatch.setattr("collections_crm.imports.tasks.run_import.delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert import_jobs_sweep(now=NOW) == {"requeued": 1, "failed": 0}
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress, job.heartbeat_at) == (ImportStatus.QUEUED, 1, 0, None)
    assert queued == [job.pk]  # handed to the broker again once the sweep committed
    assert not ImportRowError.objects.filter(job=job).exists()  # the dead run's partial report is gone
    assert ImportJob.objects.get(pk=alive.pk).status == ImportStatus.RUNNING  # still within its lease
    row = AuditLog.objects.get(action="import.lease_expired_requeued")
    assert (row.object_id, row.actor_id, row.after["attempt"]) == (str(job.pk), None, 1)

    with django_capture_on_commit_callbacks(execute=True):  # a second sweep finds nothing to do
        assert import_jobs_sweep(now=NOW) == {"requeued": 0, "failed": 0}
    assert queued == [job.pk]

    with translation.override("en"):
        done = import_job_run(job_id=job.pk, now=NOW + dt.timedelta(minutes=1))
    assert (done.status, done.attempts, done.rows_created, done.rows_rejected) == (ImportStatus.DONE, 2, 4, 4)
    assert len(errors_of(done)) == 5 and not stage_exists(job)  # the report once, the stage rebuilt and dropped
    assert Case.objects.count() == 4


def test_after_the_last_attempt_the_job_fails_with_a_clear_message(upload, admin_user, settings_lease, monkeypatch):
    job = upload(MESSY)
    import_job_start(actor=admin_user, job_id=job.pk)
    ImportJob.objects.filter(pk=job.pk).update(language="en")
    died_while_running(job, attempts=3, beat=NOW - dt.timedelta(minutes=5))
    monkeypatch.setattr("collections_crm.imports.tasks.run_import.delay", lambda job_id: pytest.fail("must not run again"))

    assert import_jobs_sweep(now=NOW) == {"requeued": 0, "failed": 1}
    job.refresh_from_db()
    assert (job.status, job.finished_at) == (ImportStatus.FAILED, NOW)
    assert job.failure == ("The import stopped 3 times without finishing (its worker stopped responding); nothing was "
                           "imported. Upload the file again or ask an administrator.")
    # Nothing half-written stays: no partial report, no staging table, no records.
    assert not ImportRowError.objects.filter(job=job).exists() and not stage_exists(job)
    assert Case.objects.count() == 0 and Debtor.objects.count() == 0
    assert AuditLog.objects.get(action="import.lease_expired_failed").after["attempt"] == 3
    assert import_job_run(job_id=job.pk) is None  # a late message for it does nothing


def test_a_job_running_since_before_heartbeats_is_judged_by_its_start(upload, admin_user, settings_lease, monkeypatch):
    job = upload(MESSY)
    died_while_running(job, attempts=1, beat=None)
    monkeypatch.setattr("collections_crm.imports.tasks.run_import.delay", lambda job_id: None)
    assert import_jobs_sweep(now=NOW) == {"requeued": 1, "failed": 0}
    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.QUEUED


def test_a_run_that_lost_its_lease_undoes_its_work(upload, admin_user, monkeypatch):
    job = upload(MESSY)
    import_job_start(actor=admin_user, job_id=job.pk)
    real_check = loader.check_portfolio

    def check_then_lose_the_lease(job_, stage):
        real_check(job_, stage)
        # Meanwhile the sweeper took the job back and another run claimed it (attempt 2).
        ImportJob.objects.filter(pk=job_.pk).update(attempts=F("attempts") + 1)

    monkeypatch.setattr(loader, "check_portfolio", check_then_lose_the_lease)
    assert import_job_run(job_id=job.pk) is None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.rows_created) == (ImportStatus.RUNNING, 2, 0)  # left to the run that holds it
    assert Case.objects.count() == 0 and Debtor.objects.count() == 0
    assert not AuditLog.objects.filter(action__in=["case.created", "import.records_created", "import.finished"]).exists()


def test_progress_renews_the_heartbeat_only_for_the_run_that_holds_the_job(upload):
    job = upload(MESSY)
    beat = timezone.now() - dt.timedelta(minutes=10)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, attempts=2, heartbeat_at=beat)
    services._set_progress(job.pk, 1, 0.5)  # an older run: ignored
    job.refresh_from_db()
    assert (job.progress, job.heartbeat_at) == (0, beat)
    services._set_progress(job.pk, 2, 0.5)
    job.refresh_from_db()
    assert job.progress == 50 and job.heartbeat_at > beat
