"""The import through a REAL Redis broker and REAL Celery worker processes, on the PostgreSQL
test database: start from the page, watch the progress, read the report; a second delivery of
the same task changes nothing; a worker killed in the middle of a run loses the job to the
sweeper, and another worker imports it exactly once."""

from __future__ import annotations

import re
import time

import pytest
from django.db import connection
from django.urls import reverse

from cases.models import Case
from collections_crm.imports.models import ImportJob, ImportStatus
from tests.brokers import requires_redis

from .test_loader import MESSY
from .test_pages import MAPPING

pytestmark = [
    pytest.mark.celery,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker process needs a shared server database (PostgreSQL)"),
    requires_redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def wait_for(predicate, *, timeout: float = 90, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_import_runs_on_the_worker_and_twice_is_once(celery_worker, client, admin_user, creditor):
    client.force_login(admin_user)
    client.post(reverse("imports:list"), {"creditor": creditor.pk, "kind": "portfolio", "file": _file()})
    job = ImportJob.objects.get()
    client.post(reverse("imports:detail", args=[job.pk]), {**MAPPING, "start": "1"})
    wait_for(lambda: client.get(reverse("imports:progress", args=[job.pk])).get("HX-Refresh") == "true", what="import finished")
    job.refresh_from_db()
    assert (job.status, job.rows_created, job.rows_rejected) == (ImportStatus.DONE, 4, 4)
    # The new cases were handed to the follow-up engine, in a task of their own. (A task id in the
    # log may be partly redacted, e.g. "[[document]-658b-…]", when it looks like a document number.)
    wait_for(lambda: re.search(rb"imports\.plan_cases\[.*?\] succeeded", celery_worker.log_bytes()), what="cases planned")

    from collections_crm.imports.tasks import run_import

    run_import.delay(job.pk)  # a redelivered message
    wait_for(lambda: len(re.findall(rb"imports\.run\[.*?\] succeeded", celery_worker.log_bytes())) == 2, what="second run finished")
    job.refresh_from_db()
    assert job.rows_created == 4 and Case.objects.count() == 4


def _file():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("cartera.csv", MESSY)


def test_a_worker_killed_mid_run_loses_the_job_and_another_imports_it_once(tmp_path, settings, admin_user, creditor,
                                                                          celery_workers):
    from django.core.files import File

    from collections_crm.devtools.benchmarks.imports import write_file
    from collections_crm.imports.services import import_job_create, import_job_start, import_jobs_sweep

    rows = 60_000  # long enough (seconds) to be caught running
    path = tmp_path / "big.csv"
    write_file(path, rows)
    settings.CRM_IMPORT_LEASE_SECONDS = 3
    with path.open("rb") as fh:
        job = import_job_create(actor=admin_user, creditor=creditor, kind="portfolio", upload=File(fh, name="big.csv"))
    lease = {"CRM_IMPORT_LEASE_SECONDS": "3"}
    first = celery_workers.start(env=lease)
    try:
        import_job_start(actor=admin_user, job_id=job.pk)
        wait_for(lambda: ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).exists(), what="first run started")
    finally:
        first.kill()  # SIGKILL: no clean-up, no last words
    job.refresh_from_db()
    assert (job.status, job.attempts) == (ImportStatus.RUNNING, 1), "the run finished before it could be killed"
    assert Case.objects.filter(creditor=creditor).count() == 0  # the apply step is one transaction

    # No beat for a whole lease: the sweeper queues it again and a new worker takes it.
    wait_for(lambda: import_jobs_sweep()["requeued"] == 1, timeout=30, what="job re-queued")
    second = celery_workers.start(env=lease)
    try:
        wait_for(lambda: ImportJob.objects.get(pk=job.pk).finished, timeout=240, what="second run finished")
    finally:
        second.kill()  # not waiting for it to plan the 60,000 new cases
    job.refresh_from_db()
    assert (job.status, job.attempts, job.rows_created, job.rows_rejected) == (ImportStatus.DONE, 2, rows, 0)
    assert Case.objects.filter(creditor=creditor).count() == rows
    assert f"imports_stage_{job.pk}" not in connection.introspection.table_names()
