"""The shared Celery worker fixtures (tests/workers.py): both kinds of worker take a task from
the real test broker, on the queue they were given, and stop cleanly."""

from __future__ import annotations

import pytest
from django.db import connection

from collections_crm.core.models import Heartbeat
from collections_crm.core.tasks import heartbeat
from tests.brokers import TEST_REDIS_URL, requires_redis
from tests.workers import WorkerOptions, wait_for


# The workers see only committed rows; serialized rollback restores the seed data after.
def needs_worker(test):
    for mark in (pytest.mark.celery, requires_redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)):
        test = mark(test)
    return test


def _runs_a_task(worker) -> None:
    Heartbeat.objects.filter(name="worker").delete()
    heartbeat.apply_async(queue=worker.queue)
    wait_for(lambda: Heartbeat.objects.filter(name="worker").exists(), timeout=60, what="the heartbeat task")


@pytest.mark.parametrize("own_queue", [False, True])
@needs_worker
def test_an_in_process_worker_takes_tasks_from_the_test_broker(celery_workers, own_queue):
    from collections_crm.celery import app

    default_queue = app.conf.task_default_queue
    worker = celery_workers.start(in_process=True, own_queue=own_queue)
    assert app.conf.broker_url == TEST_REDIS_URL
    assert (worker.queue != default_queue) is own_queue
    _runs_a_task(worker)
    worker.stop()
    assert not worker.running
    assert app.conf.task_default_queue == default_queue  # its conf overrides are undone


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker process needs a shared server database (PostgreSQL)")
@needs_worker
def test_a_worker_process_on_its_own_queue_runs_tasks_and_stops_cleanly(celery_workers):
    worker = celery_workers.start(own_queue=True, env={"CRM_TICK_SECONDS": "1"})
    assert worker.environment()["CELERY_TASK_DEFAULT_QUEUE"] == worker.queue
    assert worker.environment()["CRM_TICK_SECONDS"] == "1"
    _runs_a_task(worker)
    assert b"core.heartbeat" in worker.log_bytes()
    worker.stop()
    assert worker.proc.returncode == 0 and not worker.running
    worker.start()  # it starts again after a stop; a kill leaves no process behind
    worker.kill()
    assert worker.proc.returncode == -9 and worker.starts == 2


def test_an_in_process_worker_has_no_beat_or_environment():
    with pytest.raises(ValueError):
        WorkerOptions(in_process=True, beat=True)
    with pytest.raises(ValueError):
        WorkerOptions(in_process=True, env={"X": "1"})
