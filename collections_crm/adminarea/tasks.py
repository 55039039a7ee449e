"""After an admin changes the strategy, a cadence or a contact policy, every open case is
replanned in the background so the change is effective at once, not only at each case's next
event. Safe to run twice: replanning an already planned case changes nothing."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task
from django.db import OperationalError, transaction
from django.utils import timezone

from collections_crm.core.enqueue import enqueue_now
from contacts.engine import followups_plan_portfolio, strategy_invalidate


@shared_task(name="adminarea.replan_portfolio", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def replan_portfolio() -> dict:
    strategy_invalidate()  # this worker process drops its cached copy of the old policies
    return asdict(followups_plan_portfolio(now=timezone.now()))


def _enqueue_replan() -> None:
    strategy_invalidate()  # new decisions in this process use the change at once
    enqueue_now(replan_portfolio)


def replan_portfolio_on_commit() -> None:
    # An import changes rules, cadences and packs in one transaction: replan once, not thrice.
    pending = transaction.get_connection().run_on_commit
    if not any(entry[1] is _enqueue_replan for entry in pending):
        transaction.on_commit(_enqueue_replan)
