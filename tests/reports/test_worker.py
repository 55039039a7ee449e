"""The periodic rebuild through the real thing: Celery beat enqueues ``reports.rebuild_facts`` on
a real Redis broker and a real worker process runs it against the PostgreSQL test database."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from collections_crm.reports.models import MoneyDaily, RebuildState
from collections_crm.reports.tasks import rebuild_facts
from tests.brokers import TEST_REDIS_URL, requires_redis
from tests.factories import CaseFactory, PaymentFactory


def wait_for(predicate, *, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_task_twice_gives_the_same_facts(db):
    CaseFactory(placed_at=timezone.localdate())
    rebuild_facts()
    first = list(MoneyDaily.objects.values_list("day", "agent_id", "creditor_id", "placed_cases", "placed_amount"))
    rebuild_facts()
    assert list(MoneyDaily.objects.values_list("day", "agent_id", "creditor_id", "placed_cases", "placed_amount")) == first
    assert len(first) == 1


def test_beat_schedules_the_rebuild():
    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "reports.rebuild_facts")
    assert entry["schedule"] > 0


@pytest.mark.celery
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker process needs a shared server database (PostgreSQL)")
@requires_redis
@pytest.mark.django_db(transaction=True)
def test_beat_and_worker_rebuild_and_catch_up(celery_workers):
    case = CaseFactory(placed_at=timezone.localdate())
    celery_workers.start(beat=True, own_queue=True, env={"REPORTS_REBUILD_SECONDS": "2", "REDIS_URL": TEST_REDIS_URL})
    wait_for(lambda: MoneyDaily.objects.filter(placed_cases=1).exists(), what="the first periodic rebuild")
    # Money that arrives later is picked up by a later run, with no one asking.
    PaymentFactory(case=case, amount=Decimal("40.00"), received_on=timezone.localdate() - dt.timedelta(days=1))
    wait_for(lambda: MoneyDaily.objects.filter(collected=Decimal("40.00")).exists(), what="the catch-up run")
    assert RebuildState.objects.get(name="dashboard").built_through == timezone.localdate()
