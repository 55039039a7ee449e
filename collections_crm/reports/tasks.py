from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from .services import facts_rebuild

LOCK_KEY = "reports:rebuild-facts"


@shared_task(name="reports.rebuild_facts")
def rebuild_facts(full: bool = False) -> None:
    """Periodic (beat) and on demand. Safe to run twice: the rebuild is idempotent, and the
    lock only saves the work of two runs overlapping."""
    if not cache.add(LOCK_KEY, "1", timeout=3600):
        return
    try:
        facts_rebuild(full=full)
    finally:
        cache.delete(LOCK_KEY)
