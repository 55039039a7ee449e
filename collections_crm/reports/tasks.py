from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from .services import facts_rebuild

LOCK_KEY = "reports:rebuild-facts"


# At a million cases the periodic rebuild takes minutes (about 10 on two busy cores), longer than
# the default task limit; it stays below the broker's visibility timeout (3600 s), so a slow run
# is never delivered twice.
@shared_task(name="reports.rebuild_facts", time_limit=3000, soft_time_limit=2900)
def rebuild_facts(full: bool = False) -> None:
    """Periodic (beat) and on demand. Safe to run twice: the rebuild is idempotent, and the
    lock only saves the work of two runs overlapping."""
    if not cache.add(LOCK_KEY, "1", timeout=3000):
        return
    try:
        facts_rebuild(full=full)
    finally:
        cache.delete(LOCK_KEY)
