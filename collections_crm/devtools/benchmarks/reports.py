"""Portfolio dashboard at scale: the full fact rebuild, the incremental periodic run after a
realistic burst of changes, then server time of the pages (cached tables and uncached)."""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from decimal import Decimal
from unittest import mock

from django.core.cache.backends.dummy import DummyCache
from django.db import transaction
from django.test import Client

from cases.models import Case, Creditor, Payment, PromiseToPay
from collections_crm.accounts.models import User
from collections_crm.audit.models import AuditLog
from collections_crm.devtools.bench import BenchContext, Figure, benchmark, median_ms
from collections_crm.reports import views
from collections_crm.reports.models import RebuildState
from collections_crm.reports.services import facts_rebuild
from contacts.models import ContactAttempt, Technique

# Processes for the days of the first (full) rebuild.
REBUILD_WORKERS = int(os.environ.get("CRM_BENCH_REBUILD_WORKERS", "2"))


def simulate_changes(ctx: BenchContext, *, cases: int, seed: int = 6) -> int:
    """A busy stretch of a working day on ``cases`` random cases: an interaction on each (with a
    technique), a promise on half of them, a payment on a quarter, a tenth reassigned to another
    agent, and as many pending promises due in the last week kept, each change with its audit row as the services
    write them. Returns how many rows were written."""
    rng = random.Random(seed)
    now = ctx.now
    top = Case.objects.order_by("-id").values_list("id", flat=True).first() or 0
    ids = sorted(rng.sample(range(1, top + 1), min(cases, top)))
    picked = list(Case.objects.filter(id__in=ids).values_list("id", "assigned_agent_id", "objective"))
    agents = list(User.objects.filter(username__startswith="bench-agent-").values_list("id", flat=True))
    technique = Technique.objects.order_by("id").first()
    audit, written = [], 0
    with transaction.atomic():
        attempts = ContactAttempt.objects.bulk_create([
            ContactAttempt(case_id=pk, agent_id=agent, channel="phone", objective=objective, outcome="promise" if i % 2 else "no_answer",
                           occurred_at=now - dt.timedelta(minutes=rng.randint(1, 300)))
            for i, (pk, agent, objective) in enumerate(picked)
        ], batch_size=2000)
        ContactAttempt.techniques.through.objects.bulk_create(
            [ContactAttempt.techniques.through(contactattempt_id=a.pk, technique_id=technique.pk) for a in attempts], batch_size=2000
        )
        promises = PromiseToPay.objects.bulk_create([
            PromiseToPay(case_id=a.case_id, amount=Decimal("50.00"), due_date=now.date() + dt.timedelta(days=7), created_by_id=a.agent_id,
                         contact_attempt_id=a.pk, created_at=a.occurred_at + dt.timedelta(minutes=1))
            for a in attempts[1::2]
        ], batch_size=2000)
        payments = Payment.objects.bulk_create([
            Payment(case_id=pk, amount=Decimal("25.00"), received_on=now.date(), created_at=now, reference="BENCH-INCR")
            for pk, _agent, _objective in picked[::4]
        ], batch_size=2000)
        for p in payments:
            audit.append(AuditLog(at=now, action="payment.posted", object_type="cases.payment", object_id=str(p.pk), case_id=p.case_id,
                                  after={"amount": "25.00"}))
        for pk, agent, _objective in picked[::10]:
            new = rng.choice(agents)
            Case.objects.filter(pk=pk).update(assigned_agent_id=new)
            audit.append(AuditLog(at=now, action="case.assigned", object_type="cases.case", object_id=str(pk), case_id=pk,
                                  before={"assigned_agent_id": agent}, after={"assigned_agent_id": new}))
        # The promises settled today are those falling due about now.
        due = PromiseToPay.objects.filter(status="pending", due_date__gte=now.date() - dt.timedelta(days=7), due_date__lte=now.date())
        kept = list(due.order_by("-due_date", "id").values_list("id", "case_id")[: max(1, cases // 10)])
        PromiseToPay.objects.filter(id__in=[k for k, _c in kept]).update(status="kept", resolved_at=now)
        for pk, case_id in kept:
            audit.append(AuditLog(at=now, action="promise.kept", object_type="cases.promisetopay", object_id=str(pk), case_id=case_id,
                                  before={"status": "pending"}, after={"status": "kept"}))
        AuditLog.objects.bulk_create(audit, batch_size=2000)
        written = len(attempts) * 2 + len(promises) + len(payments) + len(audit) + len(picked[::10]) + len(kept)
    return written


@benchmark("portfolio dashboard")
def portfolio_dashboard(ctx: BenchContext) -> list[Figure]:
    figures: list[Figure] = []
    if not RebuildState.objects.filter(built_through__isnull=False).exclude(marks={}).exists():
        # The first build covers the whole history (once); later runs reuse it (--skip-data).
        start = time.perf_counter()
        facts_rebuild(now=ctx.now, full=True, workers=REBUILD_WORKERS)
        figures.append((f"dashboard facts full rebuild ({REBUILD_WORKERS} process(es))", round(time.perf_counter() - start, 1), "s"))
    start = time.perf_counter()
    facts_rebuild(now=ctx.now)
    figures.append(("dashboard facts periodic run, nothing changed", round(time.perf_counter() - start, 2), "s"))
    changed = max(1000, ctx.scale // 250)
    rows = simulate_changes(ctx, cases=changed)
    start = time.perf_counter()
    result = facts_rebuild(now=ctx.now)
    figures.append((f"dashboard facts periodic run after changes on {changed} cases ({rows} rows, {result.keys} keys)",
                    round(time.perf_counter() - start, 2), "s"))
    creditor = Creditor.objects.order_by("id").values_list("id", flat=True).first()
    pages = (
        ("supervisor dashboard", "bench-supervisor-0", "/portfolio/"),
        ("supervisor dashboard by agent x technique", "bench-supervisor-0", "/portfolio/?cut=agent"),
        ("supervisor drill-down (open 31-60)", "bench-supervisor-0", "/portfolio/cases/?kind=open&bucket=31-60"),
        ("admin dashboard (whole portfolio)", "admin", "/portfolio/"),
        ("admin dashboard (one creditor)", "admin", f"/portfolio/?creditor={creditor}"),
        ("agent statistics", "bench-agent-0", "/portfolio/me/"),
    )
    for label, username, url in pages:
        client = Client()
        client.force_login(User.objects.get(username=username))
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        figures.append((f"{label} median", median_ms(lambda c=client, u=url: c.get(u), repeat=9), "ms"))
        if "/cases/" not in url:
            # Every request computes the tables (as the first one after a rebuild does).
            with mock.patch.object(views, "cache", DummyCache("bench", {})):
                figures.append((f"{label} uncached median", median_ms(lambda c=client, u=url: c.get(u), repeat=7, warmup=1), "ms"))
    return figures
