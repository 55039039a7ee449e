from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from contacts.engine import followups_plan_portfolio


class Command(BaseCommand):
    help = "Plan the next step of every open case (set-based), e.g. after an import or the demo seed."

    def add_arguments(self, parser):
        parser.add_argument("--creditor", type=int, help="Only the cases of this creditor id.")
        parser.add_argument("--workers", type=int, default=1,
                            help="Plan in this many processes (PostgreSQL; about one per database core).")

    def handle(self, *args, **opts):
        stats = followups_plan_portfolio(now=timezone.now(), creditor_id=opts.get("creditor"), workers=max(1, opts["workers"]))
        self.stdout.write(
            f"{stats.cases} open cases planned: {stats.created} follow-ups created, {stats.kept} kept, "
            f"{stats.cancelled} cancelled, {stats.moved_by_policy} moved by the contact policy, "
            f"{stats.objective_changed} objectives changed."
        )
