from __future__ import annotations

from django.core.management.base import BaseCommand

from collections_crm.reports.services import facts_rebuild


class Command(BaseCommand):
    help = "Bring the portfolio dashboard's fact tables up to date (what changed since the last run), or rebuild them all with --full."

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="Recompute every day since the earliest data.")
        parser.add_argument("--workers", type=int, default=1,
                            help="Processes for the days of a full rebuild (PostgreSQL; about one per core).")

    def handle(self, *args, **opts):
        result = facts_rebuild(full=opts["full"], workers=opts["workers"])
        if result is None:
            self.stdout.write("Another rebuild is running; nothing done.")
            return
        self.stdout.write(f"{result.mode} rebuild: {result.keys} keys, {result.seconds:.1f} s {result.steps}")
