from __future__ import annotations

import json
import time
from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from collections_crm.accounts.models import Role, Team, User
from collections_crm.devtools.bench import REGISTRY, BenchContext
from collections_crm.devtools.datagen import generate_portfolio
from collections_crm.devtools.demo import ensure_demo_users

AGENTS_PER_TEAM = 10
CASES_PER_AGENT = 1000


def ensure_bench_agents(scale: int) -> list[int]:
    """One agent per ~1,000 cases (a realistic workload), ten agents per team."""
    wanted = max(4, scale // CASES_PER_AGENT)
    existing = User.objects.filter(username__startswith="bench-agent-").count()
    for n in range(existing, wanted):
        team_no = n // AGENTS_PER_TEAM
        supervisor, _ = User.objects.get_or_create(username=f"bench-supervisor-{team_no}", defaults={"role": Role.SUPERVISOR})
        team, _ = Team.objects.get_or_create(name=f"Bench team {team_no}", defaults={"supervisor": supervisor})
        User.objects.create(username=f"bench-agent-{n}", role=Role.AGENT, team=team)
    return list(User.objects.filter(username__startswith="bench-agent-").order_by("id").values_list("id", flat=True)[:wanted])


# The server settings that move the write-heavy figures (checkpoints, page cache).
SERVER_SETTINGS = ("server_version", "shared_buffers", "max_wal_size", "checkpoint_timeout", "synchronous_commit")


def _server_settings() -> dict[str, str]:
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join('current_setting(%s)' for _ in SERVER_SETTINGS)}", SERVER_SETTINGS)
        return dict(zip(SERVER_SETTINGS, cursor.fetchone(), strict=True))


class Command(BaseCommand):
    help = "Build a data set of the given scale (bulk inserts) and run the registered benchmarks."

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=int, default=10_000, help="Number of cases in the data set.")
        parser.add_argument("--attempts-per-case", type=float, default=10.0)
        parser.add_argument("--only", nargs="*", help="Run only these benchmarks (names as listed).")
        parser.add_argument("--list", action="store_true", help="List the benchmarks and stop.")
        parser.add_argument("--skip-data", action="store_true", help="Use the data already in the database.")

    def handle(self, *args, **opts):
        import_module("collections_crm.devtools.benchmarks")
        if opts["list"]:
            for name in sorted(REGISTRY):
                self.stdout.write(name)
            return
        names = opts["only"] or sorted(REGISTRY)
        unknown = set(names) - set(REGISTRY)
        if unknown:
            raise CommandError(f"Unknown benchmarks: {', '.join(sorted(unknown))}. Use --list.")

        ctx = BenchContext(scale=opts["scale"], now=timezone.now())
        figures: list[dict] = []

        def report(name: str, value: float, unit: str) -> None:
            figures.append({"name": name, "value": value, "unit": unit})
            self.stdout.write(f"{name}: {value} {unit}")

        server = _server_settings()
        self.stdout.write(f"Database: {connection.vendor}; scale: {ctx.scale} cases"
                          + "".join(f"; {k} {v}" for k, v in server.items()))
        if not opts["skip_data"]:
            ensure_demo_users()
            agents = ensure_bench_agents(ctx.scale)
            result = generate_portfolio(
                cases=ctx.scale, agents=agents, attempts_per_case=opts["attempts_per_case"], prefix="BENCH", now=ctx.now
            )
            ctx.data = result
            if result["created_cases"]:
                report("datagen rows written", result["rows"], "rows")
                report("datagen rate", result["rows_per_second"], "rows/s")
            if connection.vendor == "postgresql":
                # What autovacuum does to freshly loaded tables in production (it is off on some
                # machines): statistics, and hint bits and visibility maps set once, so that the
                # first benchmark does not pay for writing them back.
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM (ANALYZE)")
        with override_settings(DEBUG=False):
            for name in names:
                start = time.perf_counter()
                for figure in REGISTRY[name](ctx):
                    report(*figure)
                self.stdout.write(f"  ({name} took {time.perf_counter() - start:.1f} s)")

        out_dir = settings.VAR_DIR / "bench"
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"bench-{connection.vendor}-{ctx.scale}-{ctx.now:%Y%m%dT%H%M%S}.json"
        path.write_text(json.dumps({"database": connection.vendor, "server": server, "scale": ctx.scale, "at": ctx.now.isoformat(), "figures": figures}, indent=2))
        self.stdout.write(f"Written to {path}")
