"""Admin-area benchmarks: the pages an admin uses while editing, and how long a policy change
takes to reach every open case (the background replan)."""

from __future__ import annotations

import time

from django.test import Client

from cases.models import Case
from collections_crm.accounts.models import User
from collections_crm.adminarea.tasks import replan_portfolio
from collections_crm.devtools.bench import BenchContext, Figure, benchmark, median_ms
from contacts.models import MessageTemplate


@benchmark("admin area")
def admin_area(ctx: BenchContext) -> list[Figure]:
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    template = MessageTemplate.objects.get(objective="remind", channel="sms", language="es", name="SMS (remind)")
    case = Case.objects.filter(status="active").order_by("pk").first()
    body = "{{ company_name }}: saldo de {{ amount_due }} (ref. {{ case_reference }}). {{ opt_out_text }}"
    figures: list[Figure] = [
        ("template list median", median_ms(lambda: client.get("/manage/templates/")), "ms"),
        ("template preview on a case median",
         median_ms(lambda: client.post(f"/manage/templates/{template.pk}/preview/", {"body": body, "case": case.pk})), "ms"),
        ("why tester median", median_ms(lambda: client.get("/manage/policies/why/", {"case": case.pk})), "ms"),
        ("policies export median", median_ms(lambda: client.get("/manage/policies/export/"), repeat=5), "ms"),
    ]
    start = time.perf_counter()
    stats = replan_portfolio()
    seconds = time.perf_counter() - start
    figures.append(("replan after a policy change", round(seconds, 2), "s"))
    figures.append(("replan throughput", round(stats["cases"] / seconds) if seconds else 0, "cases/s"))
    return figures
