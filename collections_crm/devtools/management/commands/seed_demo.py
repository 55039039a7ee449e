from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from cases.choices import CaseStatus, PlanStatus
from cases.models import Case, PaymentPlan
from cases.services import plan_create, plan_schedule
from collections_crm.accounts.models import Role, User
from collections_crm.devtools.datagen import generate_portfolio
from collections_crm.devtools.demo import DEMO_PASSWORD, DEMO_USERS, TEAMS, ensure_demo_users
from collections_crm.selfservice.links import link_issue
from contacts.engine import followups_plan_portfolio
from debtors.models import Debtor

DEMO_POSTAL_CODE = "28013"


class Command(BaseCommand):
    help = "Create demo users of every role and a realistic portfolio. Safe to run again: adds only what is missing."

    def add_arguments(self, parser):
        parser.add_argument("--cases", type=int, default=300, help="Number of demo cases (default 300).")
        parser.add_argument("--attempts-per-case", type=float, default=3.0)
        parser.add_argument("--quiet", action="store_true", help="Do not print the demo logins.")
        parser.add_argument("--logins", action="store_true", help="Only print the demo logins (./run.sh prints them last).")

    def handle(self, *args, **opts):
        if opts["logins"]:
            self._print_logins()
            return
        ensure_demo_users()
        agents = list(User.objects.filter(role=Role.AGENT, username__in=[u[0] for u in DEMO_USERS]).order_by("username").values_list("id", flat=True))
        result = generate_portfolio(cases=opts["cases"], agents=agents, attempts_per_case=opts["attempts_per_case"], prefix="DEMO")
        if result["created_cases"]:
            # Give every new case its first step now, as an import would: the running worker then
            # sends what is due and the agents' queues fill with call tasks.
            stats = followups_plan_portfolio(now=timezone.now())
            _propose_demo_plan()
            self.stdout.write(
                f"Demo data: {result['created_cases']} cases, {result['rows']} rows in {result['seconds']} s "
                f"({result['rows_per_second']:.0f} rows/s); {stats.created} follow-ups planned."
            )
        else:
            self.stdout.write("Demo data already present.")
        if not opts["quiet"]:
            self._print_logins()

    def _print_logins(self) -> None:
        """Who to log in as, by role (the README's "First ten minutes" says what each may try)."""
        led = {supervisor: team for team, supervisor in TEAMS.items()}
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, first, last, role, team, lang in DEMO_USERS:
            where = f"leads {led[username]}" if username in led else (f"in {team}" if team else "sees everything")
            name = f"{first} {last}"
            self.stdout.write(f"  {username:<12} {role:<11} {name:<20} {where}{', pages in English' if lang == 'en' else ''}")
        self._print_debtor()

    def _print_debtor(self) -> None:
        """A debtor of agent's, with a new personal link to the self-service portal (a link's
        secret is never stored, so every start issues one) and the answers of the identity check."""
        case = (Case.objects.filter(assigned_agent__username="agent", status__in=[CaseStatus.NEW, CaseStatus.ACTIVE])
                .exclude(plans__status__in=[PlanStatus.PROPOSED, PlanStatus.ACTIVE]).exclude(promises__status="pending")
                .select_related("debtor").order_by("id").first())
        if case is None:
            return
        debtor = case.debtor
        if not debtor.postal_code:
            Debtor.objects.filter(pk=debtor.pk).update(postal_code=DEMO_POSTAL_CODE)
        issued = link_issue(case_id=case.pk, source="agent")
        self.stdout.write(f"Debtor (self-service portal, phone-sized pages): {debtor.name}, case {case.reference}")
        self.stdout.write(f"  {issued.url}")
        self.stdout.write(f"  identity: last 4 of the document {debtor.document_number[-4:]}, postal code "
                          f"{debtor.postal_code or DEMO_POSTAL_CODE}; or type the code {issued.code} at "
                          f"{settings.CRM_PORTAL_BASE_URL}/p/")


def _propose_demo_plan() -> None:
    """One plan an agent proposed beyond the guardrails (18 monthly instalments), so that the
    supervisors' "Plans to agree" inbox shows what it is for."""
    if PaymentPlan.objects.filter(status=PlanStatus.PROPOSED).exists():
        return
    agent = User.objects.filter(username="agent").first()
    case = (
        Case.objects.filter(assigned_agent=agent, status__in=[CaseStatus.ACTIVE, CaseStatus.NEW], balance__gte=1800)
        .exclude(plans__status__in=[PlanStatus.PROPOSED, PlanStatus.ACTIVE]).order_by("id").first()
    )
    if case is None:
        return
    first = timezone.localdate() + dt.timedelta(days=5)
    rows = [(day, amount) for _n, day, amount in plan_schedule(total=case.balance, count=18, frequency="monthly", first_date=first)]
    plan_create(actor=agent, case_id=case.pk, total_amount=case.balance, frequency="monthly", instalments=rows, agreed=False)
