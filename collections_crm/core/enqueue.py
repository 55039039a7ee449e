"""Hand work to Celery after the transaction that made it commits, and survive a broker outage.

``enqueue_on_commit(task, *ids)`` is the one way the app enqueues from a request or a service.
If the broker cannot be reached the request still succeeds: the task is written to
``DeferredTask`` (the row the work belongs to is already committed) and the beat entry
``core.relay_deferred_tasks`` sends it when the broker answers again. Every task is safe to run
twice, so a relay that overlaps with a late delivery does no harm.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from .models import DeferredTask

log = logging.getLogger(__name__)


def _send(task, args: tuple) -> bool:
    try:
        task.delay(*args)
        return True
    except Exception as error:  # kombu/redis raise many kinds; the work is safe in the database
        log.warning("broker unavailable (%s): %s kept for relay", type(error).__name__, task.name)
        return False


def enqueue_now(task, *args) -> None:
    """Send at once (no transaction to wait for); on failure keep it for the relay."""
    if not _send(task, args):
        try:
            DeferredTask.objects.create(task_name=task.name, args=list(args), created_at=timezone.now())
        except DatabaseError:  # the database is away too: the sweepers find the work by its rows
            log.exception("could not keep %s for relay", task.name)


def enqueue_on_commit(task, *args) -> None:
    transaction.on_commit(lambda: enqueue_now(task, *args))


def deferred_tasks_relay(*, limit: int = 500) -> int:
    """Send the kept tasks, oldest first; a row is deleted only once its task was accepted.
    Rows are claimed with SKIP LOCKED, so two relays never send the same row twice at once."""
    from celery import current_app

    sent = 0
    with transaction.atomic():
        rows = list(DeferredTask.objects.select_for_update(skip_locked=True).order_by("id")[:limit])
        done, failed = [], []
        for row in rows:
            task = current_app.tasks.get(row.task_name)
            if task is None:
                log.error("deferred task %s is not registered; dropped", row.task_name)
                done.append(row.pk)
            elif _send(task, tuple(row.args)):
                done.append(row.pk)
                sent += 1
            else:
                failed.append(row.pk)
                break  # the broker is still away: keep the rest for the next run
        DeferredTask.objects.filter(pk__in=done).delete()
        if failed:
            DeferredTask.objects.filter(pk__in=failed).update(attempts=F("attempts") + 1)
    return sent

