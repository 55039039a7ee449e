from __future__ import annotations

from celery import shared_task

from .services import facts_rebuild


# The periodic run is incremental (seconds); a full rebuild at a million cases takes minutes,
# so the limit leaves room for the first run or a ``full`` one. Below the broker's visibility
# timeout (3600 s), so a slow run is never delivered twice.
@shared_task(name="reports.rebuild_facts", time_limit=3000, soft_time_limit=2900)
def rebuild_facts(full: bool = False) -> None:
    """Periodic (beat) and on demand. Safe to run twice: the rebuild is idempotent, and the
    claim in the database lets only one run work at a time (the other returns at once)."""
    facts_rebuild(full=full)
