from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from collections_crm.accounts.models import Role, User
from collections_crm.core.datagen import generate_portfolio
from collections_crm.core.demo import DEMO_PASSWORD, DEMO_USERS, ensure_demo_users
from contacts.services_followup import followups_plan_portfolio


class Command(BaseCommand):
    help = "Create demo users of every role and a realistic portfolio. Safe to run again: adds only what is missing."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=300, help="Number of demo cases (default 300).")
        parser.add_argument("--attempts-per-case", type=float, default=3.0)
        parser.add_argument("--quiet", action="store_true", help="Do not print the demo logins.")

    def handle(self, *args, **opts):
        ensure_demo_users()
        agents = list(User.objects.filter(role=Role.AGENT, username__in=[u[0] for u in DEMO_USERS]).order_by("username").values_list("id", flat=True))
        result = generate_portfolio(cases=opts["cases"], agents=agents, attempts_per_case=opts["attempts_per_case"], prefix="DEMO")
        if result["created_cases"]:
            # Give every new case its first step now, as an import would: the running worker then
            # sends what is due and the agents' queues fill with call tasks.
            stats = followups_plan_portfolio(now=timezone.now())
            self.stdout.write(
                f"Demo data: {result['created_cases']} cases, {result['rows']} rows in {result['seconds']} s "
                f"({result['rows_per_second']:.0f} rows/s); {stats.created} follow-ups planned."
            )
        else:
            self.stdout.write("Demo data already present.")
        if not opts["quiet"]:
            self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
            for username, first, last, role, team, _lang in DEMO_USERS:
                self.stdout.write(f"  {username:<12} {Role(role).label:<14} {first} {last}{' — ' + team if team else ''}")
