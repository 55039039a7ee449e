"""Foundation benchmarks: login page and home page server time per role."""

from __future__ import annotations

from django.core.cache import cache
from django.test import Client

from collections_crm.accounts.models import User
from collections_crm.devtools.bench import BenchContext, Figure, benchmark, median_ms


@benchmark("login and home pages")
def login_and_home(ctx: BenchContext) -> list[Figure]:
    figures: list[Figure] = []
    anonymous = Client()
    figures.append(("login page GET median", median_ms(lambda: anonymous.get("/accounts/login/")), "ms"))
    for label, username in (("agent", "bench-agent-0"), ("supervisor", "bench-supervisor-0"), ("admin", "admin")):
        user = User.objects.get(username=username)
        client = Client()
        client.force_login(user)
        response = client.get("/")
        assert response.status_code == 200, response.status_code
        figures.append((f"home page ({label}) median", median_ms(lambda c=client: c.get("/")), "ms"))

        def uncached(c=client):
            cache.clear()
            c.get("/")

        figures.append((f"home page ({label}), summary not cached, median", median_ms(uncached, repeat=5), "ms"))
    return figures
