"""Server time of the agent workspace at scale: the queue and the case page (issue 3)."""

from __future__ import annotations

import itertools
import re
import statistics
import time

from django.db.models import Count
from django.test import Client

from cases.choices import CaseStatus
from cases.models import Case
from collections_crm.accounts.models import User
from collections_crm.audit.models import AuditLog
from collections_crm.devtools.bench import BenchContext, Figure, benchmark, median_ms
from contacts.models import ContactAttempt

SAMPLE_CASES = 20


def median_cpu_ms(fn, *, repeat: int = 15) -> float:
    """Median CPU time of this (web) process for ``fn``: on a shared, loaded machine the wall time
    also counts waiting for a core, so both are reported. Database time is not in it."""
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        samples.append((time.process_time() - start) * 1000)
    return round(statistics.median(samples), 2)


def _audit_history(case_ids: list[int]) -> None:
    """The data builder writes attempts without audit rows (it bypasses the services); give the
    sampled cases the audit trail the services would have written, so the timeline is full."""
    have = set(AuditLog.objects.filter(case_id__in=case_ids, object_type="contacts.contactattempt").values_list("case_id", flat=True))
    rows = [
        AuditLog(at=a.occurred_at, actor_id=a.agent_id, action="contact_attempt.logged", object_type="contacts.contactattempt",
                 object_id=str(a.pk), case_id=a.case_id,
                 after={"channel": a.channel, "objective": a.objective, "outcome": a.outcome})
        for a in ContactAttempt.objects.filter(case_id__in=[c for c in case_ids if c not in have]).only(
            "occurred_at", "agent_id", "case_id", "channel", "objective", "outcome")
    ]
    AuditLog.objects.bulk_create(rows, batch_size=5000)


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@benchmark("agent queue page")
def queue_page(ctx: BenchContext) -> list[Figure]:
    figures: list[Figure] = []
    agent = User.objects.get(username="bench-agent-0")
    client = _client_for(agent)
    assert client.get("/cases/").status_code == 200
    open_cases = Case.objects.filter(assigned_agent=agent).count()
    figures.append((f"queue page median ({open_cases} cases assigned to the agent)", median_ms(lambda: client.get("/cases/")), "ms"))
    figures.append(("queue page web-process CPU median", median_cpu_ms(lambda: client.get("/cases/")), "ms"))
    figures.append(("queue page, page 5, sorted by balance, median",
                    median_ms(lambda: client.get("/cases/", {"sort": "-balance", "page": 5})), "ms"))
    figures.append(("queue search by name median", median_ms(lambda: client.get("/cases/", {"q": "García"})), "ms"))
    supervisor = User.objects.get(username="bench-supervisor-0")
    sup_client = _client_for(supervisor)
    figures.append(("queue page (supervisor, whole team) median", median_ms(lambda: sup_client.get("/cases/")), "ms"))
    # An inbound call: the admin looks the debtor up in the whole portfolio.
    admin = User.objects.filter(role="admin").first()
    admin_client = _client_for(admin)
    open_cases = Case.objects.filter(status__in=CaseStatus.open_values())
    sample = open_cases.select_related("debtor").order_by("pk")[open_cases.count() // 2]
    phone = sample.debtor.contact_points.filter(kind="phone").values_list("value", flat=True).first() or ""
    surname = sample.debtor.name.split()[-1]
    for label, term in (("full name", sample.debtor.name), ("surname substring", surname[1:]), ("phone", phone),
                        ("reference", sample.reference)):
        page = admin_client.get("/cases/", {"q": term}).content.decode()
        hits = re.search(r'data-testid="queue-count">([^<]*)<', page).group(1)
        figures.append((f"whole-portfolio search by {label} (admin, {hits} hits) median",
                        median_ms(lambda t=term: admin_client.get("/cases/", {"q": t})), "ms"))
    return figures


@benchmark("case page")
def case_page(ctx: BenchContext) -> list[Figure]:
    figures: list[Figure] = []
    # The cases with the longest history: the worst case for the timeline and the preparation panel.
    busiest = list(
        Case.objects.filter(assigned_agent__isnull=False).annotate(n=Count("attempts")).order_by("-n")
        .values_list("id", "n", "assigned_agent_id")[:SAMPLE_CASES]
    )
    _audit_history([case_id for case_id, _n, _a in busiest])
    clients = {agent_id: _client_for(User.objects.get(pk=agent_id)) for _c, _n, agent_id in busiest}
    for case_id, _n, agent_id in busiest[:1]:
        assert clients[agent_id].get(f"/cases/{case_id}/").status_code == 200
    cycle = itertools.cycle(busiest)

    def one():
        case_id, _n, agent_id = next(cycle)
        clients[agent_id].get(f"/cases/{case_id}/")

    figures.append((f"case page median ({busiest[0][1]}–{busiest[-1][1]} attempts per case)", median_ms(one, repeat=40), "ms"))
    figures.append(("case page web-process CPU median", median_cpu_ms(one, repeat=40), "ms"))

    def timeline_page():
        case_id, _n, agent_id = next(cycle)
        clients[agent_id].get(f"/cases/{case_id}/timeline/", {"page": 3}, HTTP_HX_REQUEST="true")

    figures.append(("case timeline page 3 (htmx) median", median_ms(timeline_page, repeat=40), "ms"))
    return figures
