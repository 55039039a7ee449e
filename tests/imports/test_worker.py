"""The import through a REAL Redis broker and a REAL Celery worker process, on the PostgreSQL
test database: start from the page, watch the progress, read the report; a second delivery of
the same task changes nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid

import pytest
from django.db import connection
from django.urls import reverse

from cases.models import Case
from collections_crm.imports.models import ImportJob, ImportStatus

from .test_loader import MESSY
from .test_pages import MAPPING

REDIS_URL = os.environ.get("IMPORTS_TEST_BROKER_URL", "redis://127.0.0.1:6379/7")


def _redis():
    import redis

    return redis.Redis.from_url(REDIS_URL)


def _redis_up() -> bool:
    try:
        return bool(_redis().ping())
    except Exception:  # noqa: BLE001 - any failure means "no broker here"
        return False


pytestmark = [
    pytest.mark.celery,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker process needs a shared server database (PostgreSQL)"),
    pytest.mark.skipif(not _redis_up(), reason=f"no Redis broker at {REDIS_URL}"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def wait_for(predicate, *, timeout: float = 90, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def worker(tmp_path, settings):
    """A `celery worker` subprocess on the test database, and this process publishing to it."""
    from collections_crm.celery import app

    _redis().flushdb()  # only the database REDIS_URL names
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_NAME", "PYTEST_CURRENT_TEST")}
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        CELERY_BROKER_URL=REDIS_URL, MEDIA_ROOT=str(settings.MEDIA_ROOT), CRM_VAR_DIR=str(tmp_path / "var"),
        PYTHONPATH=str(settings.BASE_DIR),
    )
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "collections_crm", "worker", "--pool=solo", "--loglevel=INFO",
             "-n", f"imports-{uuid.uuid4().hex[:8]}@%h"],
            cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    old_broker = app.conf.broker_url
    app.conf.broker_url = REDIS_URL
    # Publish through fresh pools on the test broker (an earlier test may have used another).
    app._pool = app.amqp._producer_pool = None
    try:
        wait_for(lambda: b" ready." in log_path.read_bytes(), timeout=90, what="worker ready")
        yield log_path
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        print(log_path.read_text(errors="replace")[-3000:])  # shown by pytest when the test fails
        app.conf.broker_url = old_broker
        app._pool = app.amqp._producer_pool = None
        _redis().flushdb()


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
