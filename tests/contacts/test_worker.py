"""The follow-up engine with a REAL Redis broker and a REAL worker process (celery worker with
embedded beat, ticking every second), on the PostgreSQL test database.

The worker runs as a subprocess pointed at pytest-django's test database; the tests use
``transactional_db`` so that it sees committed rows. Only Redis database 4 is flushed.
"""

from __future__ import annotations

import datetime as dt
import importlib
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.utils import timezone

from cases.models import Creditor
from cases.services import case_create
from contacts import engine
from contacts.models import (
    CadenceStep,
    ContactAttempt,
    FollowUp,
    JurisdictionPack,
    MessageTemplate,
    OutboundMessage,
    StrategyRule,
)
from contacts.tasks import execute_followups
from debtors.services import debtor_create
from debtors.validators import dni_for
from tests.brokers import TEST_REDIS_URL, requires_redis
from tests.workers import CeleryWorker as Worker

REDIS_URL = TEST_REDIS_URL


def _redis():
    import redis

    return redis.Redis.from_url(REDIS_URL)


pytestmark = [
    pytest.mark.celery,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the worker process needs a shared server database (PostgreSQL)"
    ),
    requires_redis,
    # The worker sees only committed rows; serialized rollback restores the seeded rules after.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def wait_for(predicate, *, timeout: float = 40, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def worker(celery_workers, tmp_path) -> Worker:
    """A `celery -A collections_crm worker -B` subprocess (beat ticking every second) on a queue
    of its own, not started yet: each test starts (and kills) it when it needs to."""
    return celery_workers.new(
        own_queue=True,
        beat=True,
        env={
            "CRM_TICK_SECONDS": "1",
            "CRM_CLAIM_LEASE_SECONDS": "3",
            "CRM_SMS_BACKEND": "tests.contacts.slow_sms.SlowFileSMSBackend",
            "CRM_SMS_FILE_PATH": str(tmp_path / "sms"),
            "EMAIL_URL": f"filemail://{tmp_path / 'mail'}",
        },
    )


@pytest.fixture
def sms_cases():
    """Cases of debtors under a test pack with no hour or count limits (the tests must pass at
    any hour), whose first remind step is an SMS (the cadence is data)."""
    if not StrategyRule.objects.exists():
        # An earlier transactional test flushed the database without restoring migrated data.
        for name in ("0002_seed_catalogues", "0004_followup_defaults"):
            importlib.import_module(f"contacts.migrations.{name}").seed(django_apps, None)
    JurisdictionPack.objects.create(
        code="test",
        name="Test",
        countries="ZZ",
        start_time=dt.time(0),
        end_time=dt.time(23, 59, 59, 999999),
        weekdays="1,2,3,4,5,6,7",
    )
    sms = MessageTemplate.objects.get(objective="remind", channel="sms", language="es")
    CadenceStep.objects.filter(cadence__objective="remind", position=0).update(channel="sms", template=sms)
    creditor = Creditor.objects.create(code="acme-worker", name="Acme")

    def make(n: int) -> list:
        cases = []
        for i in range(n):
            debtor = debtor_create(
                actor=None,
                name=f"Deudor {i}",
                document_type="dni",
                document_number=dni_for(40_000_000 + i),
                country="ZZ",
                timezone="UTC",
                contact_points=[{"kind": "phone", "value": f"+3461{i:07d}", "consent": True, "is_primary": True}],
            )
            cases.append(
                case_create(
                    actor=None,
                    creditor=creditor,
                    debtor=debtor,
                    reference=f"W-{i}",
                    original_amount=Decimal("100"),
                    due_date=timezone.localdate() - dt.timedelta(days=5),
                )
            )
        return cases

    return make


def sms_files(worker: Worker) -> list[Path]:
    return sorted((worker.tmp / "sms").glob("followup-*.json"))


def sms_calls(worker: Worker) -> list[str]:
    path = worker.tmp / "sms" / "calls.log"
    return path.read_text().split() if path.exists() else []


def test_follow_up_due_while_the_worker_was_down_runs_once(worker, sms_cases):
    [case] = sms_cases(1)
    [fu] = FollowUp.objects.filter(case=case, status="pending")
    time.sleep(1.5)  # due, and nobody is there to run it
    assert fu.due_at < timezone.now() and not sms_files(worker)

    worker.start()
    wait_for(lambda: OutboundMessage.objects.filter(case=case, status="sent").exists(), what="message sent")
    time.sleep(3)  # several more ticks: nothing runs twice
    fu.refresh_from_db()
    assert fu.status == "done"
    assert OutboundMessage.objects.filter(case=case).count() == 1
    assert [p.name for p in sms_files(worker)] == [f"followup-{fu.pk}.json"]
    assert ContactAttempt.objects.filter(case=case, outcome="sent").count() == 1
    # The engine planned the next step of the cadence.
    assert FollowUp.objects.filter(case=case, status="pending", step=1).exists()


@pytest.mark.parametrize("phase", ["before", "after"])
def test_killing_the_worker_mid_send_neither_loses_nor_duplicates(worker, sms_cases, phase):
    [case] = sms_cases(1)
    worker.start(**{f"TEST_SMS_SLEEP_{phase.upper()}": "60"})
    wait_for(lambda: len(sms_calls(worker)) == 1, what="send started")
    if phase == "after":
        # The provider accepted the message; the worker dies before recording it.
        wait_for(lambda: len(sms_files(worker)) == 1, what="provider accepted")
    worker.kill()
    message = OutboundMessage.objects.get(case=case)
    assert message.status == "sending"
    assert len(sms_files(worker)) == (1 if phase == "after" else 0)

    worker.start()  # no slowness now; the dead worker's claim expires after the 3 s lease
    wait_for(lambda: OutboundMessage.objects.filter(pk=message.pk, status="sent").exists(), what="message sent after restart")
    time.sleep(2)
    message.refresh_from_db()
    assert message.attempts == 2
    assert len(sms_calls(worker)) == 2  # the backend was asked twice ...
    assert len(sms_files(worker)) == 1  # ... and the idempotency key made it one SMS
    assert ContactAttempt.objects.filter(case=case, outcome="sent").count() == 1


def test_flushing_redis_loses_no_follow_up(worker, sms_cases):
    cases = sms_cases(5)
    # Two follow-ups are scheduled for later: they exist only in the database.
    later = timezone.now() + dt.timedelta(seconds=4)
    FollowUp.objects.filter(case__in=cases[3:], status="pending").update(due_at=later)
    # The other three were claimed by a sweeper and handed to the broker ...
    claimed = engine.followups_claim_due(now=timezone.now())
    assert len(claimed) == 3
    from collections_crm.celery import app

    with app.connection_for_write(REDIS_URL) as conn:
        for followup_id in claimed:
            execute_followups.apply_async(args=[[followup_id]], connection=conn, queue=worker.queue)
    assert _redis().llen(worker.queue) == 3
    # ... and then Redis lost everything.
    _redis().flushdb()
    assert _redis().llen(worker.queue) == 0

    worker.start()
    wait_for(lambda: OutboundMessage.objects.filter(case__in=cases, status="sent").count() == 5, timeout=60, what="all sent")
    time.sleep(2)
    assert FollowUp.objects.filter(case__in=cases, step=0, status="done").count() == 5
    assert OutboundMessage.objects.filter(case__in=cases).count() == 5
    assert len(sms_files(worker)) == 5
    assert ContactAttempt.objects.filter(case__in=cases, outcome="sent").count() == 5
