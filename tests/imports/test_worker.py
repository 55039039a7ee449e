"""The import through a REAL Redis broker and REAL Celery worker processes, on the PostgreSQL
test database: start from the page, watch the progress, read the report; a second delivery of
the same task changes nothing; a worker killed in the middle of a run loses the job to the
sweeper, and another worker imports it exactly once."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from cases.models import Case
from collections_crm.imports.models import ImportJob, ImportStatus
from tests.brokers import TEST_REDIS_URL as REDIS_URL
from tests.brokers import requires_redis

from .test_loader import MESSY
from .test_pages import MAPPING


def _redis():
    import redis

    return redis.Redis.from_url(REDIS_URL)


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


def _start_worker(log_path: Path, settings, **extra_env) -> subprocess.Popen:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_NAME", "PYTEST_CURRENT_TEST")}
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        CELERY_BROKER_URL=REDIS_URL, MEDIA_ROOT=str(settings.MEDIA_ROOT), CRM_VAR_DIR=str(log_path.parent / "var"),
        PYTHONPATH=str(settings.BASE_DIR), **extra_env,
    )
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "collections_crm", "worker", "--pool=solo", "--loglevel=INFO",
             "-n", f"imports-{uuid.uuid4().hex[:8]}@%h"],
            cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        wait_for(lambda: b" ready." in log_path.read_bytes(), timeout=90, what="worker ready")
    except AssertionError:
        _stop(proc, log_path)
        raise
    return proc


def _stop(proc: subprocess.Popen, log_path: Path, *, kill: bool = False) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL) if kill else proc.terminate()
        proc.wait(timeout=30)
    print(log_path.read_text(errors="replace")[-3000:])  # shown by pytest when the test fails


@contextlib.contextmanager
def _publishing_to_test_broker():
    """This process publishes to the test broker, through fresh pools (an earlier test may have used another)."""
    from collections_crm.celery import app

    _redis().flushdb()  # only the database REDIS_URL names
    old_broker = app.conf.broker_url
    app.conf.broker_url = REDIS_URL
    app._pool = app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.broker_url = old_broker
        app._pool = app.amqp._producer_pool = None
        _redis().flushdb()


@pytest.fixture
def worker(tmp_path, settings):
    """A `celery worker` subprocess on the test database, and this process publishing to it."""
    with _publishing_to_test_broker():
        log_path = tmp_path / "worker.log"
        proc = _start_worker(log_path, settings)
        try:
            yield log_path
        finally:
            _stop(proc, log_path)


def test_import_runs_on_the_worker_and_twice_is_once(worker, client, admin_user, creditor):
    client.force_login(admin_user)
    client.post(reverse("imports:list"), {"creditor": creditor.pk, "kind": "portfolio", "file": _file()})
    job = ImportJob.objects.get()
    client.post(reverse("imports:detail", args=[job.pk]), {**MAPPING, "start": "1"})
    wait_for(lambda: client.get(reverse("imports:progress", args=[job.pk])).get("HX-Refresh") == "true", what="import finished")
    job.refresh_from_db()
    assert (job.status, job.rows_created, job.rows_rejected) == (ImportStatus.DONE, 3, 5)
    # The new cases were handed to the follow-up engine, in a task of their own.
    wait_for(lambda: re.search(rb"imports\.plan_cases\[[^\]]+\] succeeded", worker.read_bytes()), what="cases planned")

    from collections_crm.imports.tasks import run_import

    run_import.delay(job.pk)  # a redelivered message
    wait_for(lambda: len(re.findall(rb"imports\.run\[[^\]]+\] succeeded", worker.read_bytes())) == 2, what="second run finished")
    job.refresh_from_db()
    assert job.rows_created == 3 and Case.objects.count() == 3


def _file():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("cartera.csv", MESSY)


def test_a_worker_killed_mid_run_loses_the_job_and_another_imports_it_once(tmp_path, settings, admin_user, creditor):
    from django.core.files import File

    from collections_crm.devtools.benchmarks.imports import write_file
    from collections_crm.imports.services import import_job_create, import_job_start, import_jobs_sweep

    rows = 60_000  # long enough (seconds) to be caught running
    path = tmp_path / "big.csv"
    write_file(path, rows)
    settings.CRM_IMPORT_LEASE_SECONDS = 3
    with _publishing_to_test_broker():
        with path.open("rb") as fh:
            job = import_job_create(actor=admin_user, creditor=creditor, kind="portfolio", upload=File(fh, name="big.csv"))
        first_log = tmp_path / "first.log"
        first = _start_worker(first_log, settings, CRM_IMPORT_LEASE_SECONDS="3")
        try:
            import_job_start(actor=admin_user, job_id=job.pk)
            wait_for(lambda: ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).exists(), what="first run started")
        finally:
            _stop(first, first_log, kill=True)  # SIGKILL: no clean-up, no last words
        job.refresh_from_db()
        assert (job.status, job.attempts) == (ImportStatus.RUNNING, 1), "the run finished before it could be killed"
        assert Case.objects.filter(creditor=creditor).count() == 0  # the apply step is one transaction

        # No beat for a whole lease: the sweeper queues it again and a new worker takes it.
        wait_for(lambda: import_jobs_sweep()["requeued"] == 1, timeout=30, what="job re-queued")
        second_log = tmp_path / "second.log"
        second = _start_worker(second_log, settings, CRM_IMPORT_LEASE_SECONDS="3")
        try:
            wait_for(lambda: ImportJob.objects.get(pk=job.pk).finished, timeout=240, what="second run finished")
        finally:
            _stop(second, second_log, kill=True)  # not waiting for it to plan the 60,000 new cases
    job.refresh_from_db()
    assert (job.status, job.attempts, job.rows_created, job.rows_rejected) == (ImportStatus.DONE, 2, rows, 0)
    assert Case.objects.filter(creditor=creditor).count() == rows
    assert f"imports_stage_{job.pk}" not in connection.introspection.table_names()
