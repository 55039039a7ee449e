"""Celery tasks: interfaces over the services. They take ids only (no PII in the broker), are
safe to run twice (every service claims its row with a conditional update), acknowledge late
(settings) and run under the global time limits. The database is the schedule: the beat tick
finds due rows; nothing waits in the broker with an ETA."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from . import engine
from .engine import outbox

log = logging.getLogger(__name__)

TRANSIENT = (OperationalError,)
# Follow-ups per execute task: big enough to share the replan's queries, small enough that a
# batch holds its case locks for well under a second and spreads over the workers.
EXECUTE_BATCH = 20


@shared_task(name="contacts.tick", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3)
def tick() -> dict:
    """Every minute (beat): monitor promises, claim due steps and fan them out, hand out again
    what a dead worker or a flushed broker lost, relay the outbox, catch forgotten cases."""
    now = timezone.now()
    promises = engine.promises_sweep(now=now)
    due = engine.followups_claim_due(now=now)
    stale = engine.followups_reclaim_stale(now=now)
    messages = outbox.messages_due_for_dispatch(now=now)
    forgotten = engine.cases_replan_forgotten(now=now)
    claimed = [*due, *stale]
    # Batches: the next steps of a batch's cases are planned together (one set-based replan).
    for start in range(0, len(claimed), EXECUTE_BATCH):
        execute_followups.delay(claimed[start:start + EXECUTE_BATCH])
    for message_id in messages:
        send_message.delay(message_id)
    summary = {"due": len(due), "stale": len(stale), "messages": len(messages), "forgotten": forgotten, **promises}
    if any(summary.values()):
        log.info("follow-up tick %s", summary)
    return summary


@shared_task(name="contacts.execute_followups", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def execute_followups(followup_ids: list[int]) -> dict[int, str]:
    return engine.followups_execute(followup_ids=followup_ids, now=timezone.now())


@shared_task(name="contacts.send_message", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def send_message(message_id: int) -> str:
    return outbox.message_send(message_id=message_id, now=timezone.now())


@shared_task(name="contacts.render_print_batches")
def render_print_batches() -> int:
    return len(outbox.print_batches_render(now=timezone.now()))
