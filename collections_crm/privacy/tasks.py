"""Celery tasks of data protection: interfaces over the services, ids and counts only."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from . import services

log = logging.getLogger(__name__)


# The name predates this app (beat schedules in the field use it).
@shared_task(name="debtors.anonymise_expired", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def anonymise_expired() -> dict:
    """Beat sweeper: anonymise the debtors whose retention has passed (a bounded number per run;
    the next run goes on). Safe to run twice: each debtor is locked and checked again."""
    summary = services.debtors_anonymise_expired(now=timezone.now())
    if summary["due"]:
        log.info("retention sweep %s", summary)
    return summary
