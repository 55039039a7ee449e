"""Portfolio dashboard at scale: the fact rebuild, then server time of the pages."""

from __future__ import annotations

import time

from django.test import Client

from collections_crm.accounts.models import User
from collections_crm.core.bench import BenchContext, Figure, benchmark, median_ms

from .models import RebuildState
from .services import facts_rebuild


@benchmark("portfolio dashboard")
def portfolio_dashboard(ctx: BenchContext) -> list[Figure]:
    figures: list[Figure] = []
    if not RebuildState.objects.filter(built_through__isnull=False).exists():
        # The first build covers the whole history (once); later runs reuse it (--skip-data).
        start = time.perf_counter()
        facts_rebuild(now=ctx.now, full=True)
        figures.append(("dashboard facts full rebuild", round(time.perf_counter() - start, 1), "s"))
    start = time.perf_counter()
    facts_rebuild(now=ctx.now)
    figures.append(("dashboard facts periodic rebuild (lookback window)", round(time.perf_counter() - start, 1), "s"))
    pages = (
        ("supervisor dashboard", "bench-supervisor-0", "/portfolio/"),
        ("supervisor dashboard by agent x technique", "bench-supervisor-0", "/portfolio/?cut=agent"),
        ("supervisor drill-down (open 31-60)", "bench-supervisor-0", "/portfolio/cases/?kind=open&bucket=31-60"),
        ("admin dashboard (whole portfolio)", "admin", "/portfolio/"),
        ("agent statistics", "bench-agent-0", "/portfolio/me/"),
    )
    for label, username, url in pages:
        client = Client()
        client.force_login(User.objects.get(username=username))
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        figures.append((f"{label} median", median_ms(lambda c=client, u=url: c.get(u), repeat=9), "ms"))
    return figures
