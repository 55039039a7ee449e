"""Follow-up engine benchmarks: planning a whole portfolio set-based versus a per-case loop, and
the sweeper's throughput (claim, execute, send)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time

from django.db import connection, transaction
from django.test import override_settings

from cases.choices import CaseStatus, Objective
from cases.models import Case
from cases.services import case_replan
from collections_crm.devtools.bench import BenchContext, Figure, benchmark
from contacts import engine
from contacts.engine import outbox
from contacts.models import ContactRefusal, FollowUp, OutboundMessage
from contacts.tasks import EXECUTE_BATCH

LOOP_SAMPLE = 2000
# Processes of the portfolio replan (followups_plan_portfolio(workers=...)); 1 measures one process.
PLAN_WORKERS = int(os.environ.get("CRM_BENCH_PLAN_WORKERS", "2"))
SWEEP_SAMPLE = 2000


def _reset(case_ids: list[int] | None = None) -> None:
    """Forget earlier plans so that every run plans from the same starting point: a portfolio
    never planned (no follow-ups; cases with the objective and empty next action an import
    gives them). On PostgreSQL the dead rows are then vacuumed, so that the timed run does not
    pay for the reset."""
    followups = FollowUp.objects.all() if case_ids is None else FollowUp.objects.filter(case_id__in=case_ids)
    OutboundMessage.objects.filter(followup__in=followups).delete()
    ContactRefusal.objects.filter(followup__in=followups).delete()
    followups.delete()
    cases = Case.objects.all() if case_ids is None else Case.objects.filter(pk__in=case_ids)
    cases.update(objective=Objective.REMIND, objective_reason={}, next_action_at=None, next_action_note={})
    if case_ids is None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) cases_case, contacts_followup, contacts_contactrefusal, contacts_outboundmessage")


@benchmark("follow-up planning")
def followup_planning(ctx: BenchContext) -> list[Figure]:
    open_cases = Case.objects.filter(status__in=CaseStatus.open_values())
    total = open_cases.count()
    sample = list(open_cases.order_by("?").values_list("pk", flat=True)[:LOOP_SAMPLE])

    # Per-case loop: what replanning one case per event costs (one transaction per case).
    _reset(sample)
    start = time.perf_counter()
    for case_id in sample:
        with transaction.atomic():
            case_replan(case=Case.objects.select_for_update().get(pk=case_id), actor=None, now=ctx.now)
    loop_seconds = time.perf_counter() - start
    per_case_ms = loop_seconds / max(len(sample), 1) * 1000

    # Set-based: every open case, in batches of 5,000, from scratch (every case gets a new row).
    _reset()
    start = time.perf_counter()
    stats = engine.followups_plan_portfolio(now=ctx.now, workers=PLAN_WORKERS)
    bulk_seconds = time.perf_counter() - start
    # The same again: the steady state of the periodic replan (nothing changed, nothing written).
    start = time.perf_counter()
    again = engine.followups_plan_portfolio(now=ctx.now, workers=PLAN_WORKERS)
    again_seconds = time.perf_counter() - start
    loop_extrapolated = per_case_ms * total / 1000
    return [
        ("open cases planned (set-based)", stats.cases, "cases"),
        (f"plan all open cases (set-based, {PLAN_WORKERS} process(es), from scratch)", round(bulk_seconds, 2), "s"),
        ("set-based planning rate", round(stats.cases / bulk_seconds), "cases/s"),
        ("replan all open cases again, nothing changed (rows written)", again.created + again.cancelled, "rows"),
        ("replan all open cases again, nothing changed", round(again_seconds, 2), "s"),
        ("follow-ups created", stats.created, "rows"),
        ("steps moved by the contact policy when scheduled", stats.moved_by_policy, "rows"),
        (f"per-case loop, measured on {len(sample)} random open cases", round(per_case_ms, 2), "ms/case"),
        ("per-case loop extrapolated to all open cases", round(loop_extrapolated, 1), "s"),
        ("set-based speed-up over the per-case loop", round(loop_extrapolated / bulk_seconds, 1), "x"),
    ]


@benchmark("follow-up sweeper")
def followup_sweeper(ctx: BenchContext) -> list[Figure]:
    # A weekday morning in Madrid, so that the contact policy lets most messages go out.
    base = ctx.now.astimezone(dt.UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    while base.weekday() >= 5 or base < ctx.now:
        base += dt.timedelta(days=1)
    if not FollowUp.objects.filter(status="pending").exists():
        engine.followups_plan_portfolio(now=ctx.now)
    # A sample of e-mail and SMS steps (the generated debtors have no postal address, so letters
    # would all be skipped), made due before every other pending step so that the sweeper
    # claims exactly these.
    pending = FollowUp.objects.filter(status="pending", kind="automatic")
    ids = list(pending.filter(channel__in=["email", "sms"]).order_by("?").values_list("pk", flat=True)[:SWEEP_SAMPLE])
    earliest = min(pending.order_by("due_at").values_list("due_at", flat=True).first() or base, base)
    FollowUp.objects.filter(pk__in=ids).update(due_at=earliest - dt.timedelta(hours=1))

    with tempfile.TemporaryDirectory() as sms_dir, override_settings(
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend", CRM_SMS_FILE_PATH=sms_dir,
        CELERY_TASK_ALWAYS_EAGER=False,
    ), _no_dispatch():
        start = time.perf_counter()
        claimed = engine.followups_claim_due(now=base, limit=len(ids))
        assert set(claimed) == set(ids), "the sweeper claimed other steps than the sample"
        claim_seconds = time.perf_counter() - start
        start = time.perf_counter()
        outcomes: dict[str, int] = {}
        for start_at in range(0, len(claimed), EXECUTE_BATCH):
            for result in engine.followups_execute(followup_ids=claimed[start_at:start_at + EXECUTE_BATCH], now=base).values():
                outcomes[result] = outcomes.get(result, 0) + 1
        execute_seconds = time.perf_counter() - start
        messages = list(OutboundMessage.objects.filter(followup_id__in=claimed, status="queued").values_list("pk", flat=True))
        start = time.perf_counter()
        sent = sum(outbox.message_send(message_id=m, now=base) == "sent" for m in messages)
        send_seconds = time.perf_counter() - start
    return [
        ("sweeper claim (FOR UPDATE SKIP LOCKED + conditional update)", round(len(claimed) / max(claim_seconds, 1e-6)), "follow-ups/s"),
        (f"execute claimed follow-ups in batches of {EXECUTE_BATCH} (policy, render, outbox, replan)", round(len(claimed) / execute_seconds, 1), "follow-ups/s"),
        *((f"executed: {outcome}", outcomes.get(outcome, 0), "rows") for outcome in ("queued", "rescheduled", "skipped", "blocked")),
        ("send from the outbox (backend, contact attempt, replan)", round(sent / max(send_seconds, 1e-6), 1), "messages/s"),
        ("end-to-end per worker process", round(len(claimed) / (claim_seconds + execute_seconds + send_seconds), 1), "follow-ups/s"),
    ]


class _no_dispatch:
    """Measure the database work only: the send tasks that on_commit would enqueue are dropped
    (the benchmark sends the outbox itself, in the same process)."""

    def __enter__(self):

        self._saved = outbox._dispatch_on_commit
        outbox._dispatch_on_commit = lambda message_id: None
        return self

    def __exit__(self, *exc):

        outbox._dispatch_on_commit = self._saved
        return False
