"""Pages, access, drill-down, exports, reassignment and team management."""

from __future__ import annotations

import csv
import io

import pytest
import time_machine
from django.urls import reverse
from openpyxl import load_workbook

from cases.models import Case
from collections_crm.audit.models import AuditLog
from collections_crm.reports.metrics import neutralise_cell
from collections_crm.reports.models import TeamPriority

from .conftest import NOW

pytestmark = pytest.mark.django_db
MARCH = "date_from=2026-03-01&date_to=2026-03-16"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_dashboard_access(client, built, supervisor, admin_user):
    url = reverse("reports:dashboard")
    client.force_login(built.A)
    assert client.get(url).status_code == 403  # agents have their own statistics page
    assert client.get(reverse("reports:my_stats")).status_code == 200
    client.force_login(supervisor)
    response = client.get(f"{url}?{MARCH}")
    assert response.status_code == 200
    assert response.context["portfolio"]["outstanding"] == 3850
    client.force_login(admin_user)
    assert client.get(f"{url}?{MARCH}").context["portfolio"]["outstanding"] == 6850
    assert client.get(reverse("reports:my_stats")).status_code == 200  # superusers pass every role


def test_supervisor_cannot_pick_another_team(client, built, supervisor, other_team):
    client.force_login(supervisor)
    response = client.get(f"{reverse('reports:dashboard')}?{MARCH}&team={other_team.pk}&agent={built.C.pk}")
    assert response.status_code == 200
    assert "team" in response.context["form"].errors and "agent" in response.context["form"].errors
    assert response.context["portfolio"]["outstanding"] == 3850  # the defaults, never team Sur's


def test_bad_dates_are_field_errors(client, built, supervisor):
    client.force_login(supervisor)
    response = client.get(f"{reverse('reports:dashboard')}?date_from=2026-03-10&date_to=2026-03-01")
    assert response.context["form"].errors["date_from"]


def test_agent_statistics_are_their_own(client, built):
    client.force_login(built.A)
    response = client.get(f"{reverse('reports:my_stats')}?{MARCH}&agent={built.B.pk}")
    assert response.context["portfolio"]["outstanding"] == 1450  # the agent filter does not exist for agents
    rows = response.context["tables"]["activity"].rows
    assert [r["attempts"] for r in rows] == [2]


def test_drill_down_lists_the_cases_behind_a_figure(client, built, supervisor, django_assert_max_num_queries):
    client.force_login(supervisor)
    url = reverse("reports:drill")
    # Queries: session, user, the supervisor's agent ids (scope), count, the reassign form's
    # agents (count + rows), one page of cases with debtor/creditor/agent joined, and the session
    # save (savepoint, update, release), the creditors' currencies (cached after). None of them
    # grows with the number of cases.
    with django_assert_max_num_queries(11):
        response = client.get(f"{url}?{MARCH}&kind=open")
    assert [c.reference for c in response.context["page"]] == ["C3", "C1", "C2", "C6"]  # by balance
    assert f'href="{reverse("desk:detail", args=[built.c3.pk])}"' in response.content.decode()
    refs = lambda q: sorted(c.reference for c in client.get(f"{url}?{MARCH}&{q}").context["page"])  # noqa: E731
    assert refs("kind=open&bucket=31-60") == ["C3"]
    assert refs("kind=collected") == ["C1", "C2", "C4"]
    assert refs("kind=promises&status=kept") == ["C2"]
    assert refs(f"kind=technique&technique={built.dialogue.pk}") == ["C1", "C2", "C3"]
    assert refs(f"kind=technique&technique={built.dialogue.pk}&agent={built.B.pk}") == ["C3"]
    assert refs("kind=no_next_step") == ["C2"]
    assert refs("kind=overdue") == ["C3"]
    assert refs("kind=roll&month=2026-02-01&bucket=91-180") == ["C6"]
    assert refs("kind=roll&month=2026-02-01&bucket=61-90&to=closed") == ["C4"]
    assert refs("kind=moves&from=remind&to=get_commitment") == ["C3"]
    assert refs("kind=refusals&reason=weekly_call_cap") == ["C1"]
    assert client.get(f"{url}?kind=nonsense").status_code == 404
    client.force_login(built.A)
    assert refs("kind=open") == ["C1", "C2"]  # agents drill into their own cases only


def test_every_dashboard_link_drills_to_matching_cases(client, built, supervisor):
    """The count shown in each table equals the number of cases (or more interactions than
    cases) behind its link: figures and drill-downs agree."""
    client.force_login(supervisor)
    tables = client.get(f"{reverse('reports:dashboard')}?{MARCH}").context["tables"]
    for row in tables["aging"].rows:
        assert client.get(row["_links"]["cases"]).context["page"].paginator.count == row["cases"]
    march = tables["recovery"].rows[0]
    assert client.get(march["_links"]["collected"]).context["page"].paginator.count == 3  # c1, c2, c4
    placed = tables["summary"].rows[0]
    assert client.get(placed["_links"]["count"]).context["page"].paginator.count == placed["count"] == 1


def test_exports_and_neutralisation(client, built, supervisor):
    built.A.first_name, built.A.last_name = "=HYPERLINK(\"http://x\")", "@evil"
    built.A.save()
    client.force_login(supervisor)
    response = client.get(f"{reverse('reports:export', args=['activity', 'csv'])}?{MARCH}")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [str(c.label) for c in client.get(f"{reverse('reports:dashboard')}?{MARCH}").context["tables"]["activity"].columns]
    names = [r[0] for r in rows[1:]]
    assert "'=HYPERLINK(\"http://x\") @evil" in names
    response = client.get(f"{reverse('reports:export', args=['techniques', 'xlsx'])}?{MARCH}")
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    assert len(values) == 3 and values[1][1] in (3, 2)  # header + dialogue + payment options
    response = client.get(f"{reverse('reports:export', args=['cases', 'xlsx'])}?{MARCH}&kind=open")
    assert [r[0] for r in list(load_workbook(io.BytesIO(response.content)).active.values)[1:]] == ["C3", "C1", "C2", "C6"]
    assert client.get(f"{reverse('reports:export', args=['nope', 'csv'])}?{MARCH}").status_code == 404


@pytest.mark.parametrize(
    "value,expected",
    [("=1+1", "'=1+1"), ("+34", "'+34"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("ok", "ok"), (-5, -5), (None, None)],
)
def test_neutralise_cell(value, expected):
    assert neutralise_cell(value) == expected


def test_bulk_reassign_writes_one_audit_row_per_case(client, built, supervisor):
    client.force_login(supervisor)
    query = f"{MARCH}&kind=open"
    url = f"{reverse('reports:reassign')}?{query}"
    before = AuditLog.objects.filter(action="case.assigned").count()
    response = client.post(url, {"agent": built.B.pk, "case_ids": [built.c1.pk, built.c2.pk]})
    assert response.status_code == 302
    assert set(Case.objects.filter(assigned_agent=built.B).values_list("reference", flat=True)) == {"C1", "C2", "C3", "C4"}
    rows = AuditLog.objects.filter(action="case.assigned").exclude(pk__in=[])
    assert rows.count() - before == 2
    assert set(rows.values_list("case_id", flat=True)) == {built.c1.pk, built.c2.pk}
    # "All matching": the unassigned 180+ case goes to A.
    client.post(f"{reverse('reports:reassign')}?{MARCH}&kind=open&bucket=180%2B", {"agent": built.A.pk, "all_matching": "1"})
    assert Case.objects.get(pk=built.c6.pk).assigned_agent == built.A


def test_bulk_reassign_refuses_other_teams(client, built, supervisor):
    client.force_login(supervisor)
    url = f"{reverse('reports:reassign')}?{MARCH}&kind=open"
    # Target agent of another team: form error, nothing written.
    client.post(url, {"agent": built.C.pk, "case_ids": [built.c1.pk]})
    # A case of another team among the selection: all or nothing.
    client.post(url, {"agent": built.B.pk, "case_ids": [built.c1.pk, built.c5.pk]})
    assert Case.objects.get(pk=built.c1.pk).assigned_agent == built.A
    assert Case.objects.get(pk=built.c5.pk).assigned_agent == built.C
    assert not AuditLog.objects.filter(action="case.assigned").exists()
    client.force_login(built.A)
    assert client.post(url, {"agent": built.B.pk, "case_ids": [built.c1.pk]}).status_code == 403


def test_team_priorities_and_members(client, built, supervisor, team, other_team, admin_user):
    client.force_login(supervisor)
    assert client.get(reverse("reports:teams")).status_code == 200
    response = client.post(reverse("reports:team_priority", args=[team.pk]), {f"t{team.pk}-focus_buckets": ["31-60"], f"t{team.pk}-note": "Primero 31-60"})
    assert response.status_code == 302
    priority = TeamPriority.objects.get(team=team)
    assert priority.focus_buckets == ["31-60"] and priority.note == "Primero 31-60"
    assert AuditLog.objects.filter(action="team.priority_set", object_id=str(team.pk)).count() == 1
    assert client.post(reverse("reports:team_priority", args=[other_team.pk]), {}).status_code == 404
    # A supervisor cannot take an agent of another team.
    client.post(reverse("reports:team_member"), {"member": built.C.pk, "team": team.pk})
    built.C.refresh_from_db()
    assert built.C.team == other_team
    client.force_login(admin_user)
    client.post(reverse("reports:team_member"), {"member": built.C.pk, "team": team.pk})
    built.C.refresh_from_db()
    assert built.C.team == team
    assert AuditLog.objects.filter(action="user.team_changed", object_id=str(built.C.pk)).count() == 1
    client.force_login(built.A)
    assert client.get(reverse("reports:teams")).status_code == 403


def test_agents_export_only_their_own_figures_and_cannot_act(client, built, supervisor):
    """An agent's exports hold their own rows only (whatever filter they add); reassigning and
    recalculating are refused to agents, and recalculating to supervisors too."""
    client.force_login(built.A)
    response = client.get(f"{reverse('reports:export', args=['activity', 'csv'])}?{MARCH}&agent={built.B.pk}")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]
    assert [r[0] for r in rows] == [built.A.display_name()]
    response = client.get(f"{reverse('reports:export', args=['cases', 'csv'])}?{MARCH}&kind=open")
    assert sorted(r[0] for r in list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]) == ["C1", "C2"]
    before = AuditLog.objects.count()
    assert client.post(f"{reverse('reports:reassign')}?{MARCH}&kind=open", {"agent": built.A.pk, "case_ids": [built.c3.pk]}).status_code == 403
    assert Case.objects.get(pk=built.c3.pk).assigned_agent == built.B and AuditLog.objects.count() == before
    assert client.post(reverse("reports:rebuild")).status_code == 403
    client.force_login(supervisor)
    assert client.post(reverse("reports:rebuild")).status_code == 403


@pytest.mark.django_db
def test_money_is_shown_one_currency_at_a_time(client, admin_user):
    from decimal import Decimal

    from collections_crm.reports.services import facts_rebuild
    from tests.factories import CaseFactory, CreditorFactory

    euros = CreditorFactory(code="eur-bank", currency="EUR")
    dollars = CreditorFactory(code="usd-bank", currency="USD")
    CaseFactory(creditor=euros, currency="EUR", original_amount=Decimal("100"), balance=Decimal("100"))
    CaseFactory(creditor=euros, currency="EUR", original_amount=Decimal("40"), balance=Decimal("40"))
    CaseFactory(creditor=dollars, currency="USD", original_amount=Decimal("7000"), balance=Decimal("7000"))
    facts_rebuild(full=True)
    client.force_login(admin_user)
    url = reverse("reports:dashboard")
    response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["scope"].currency == "EUR"  # a tie between creditors: alphabetical
    assert response.context["portfolio"]["outstanding"] == Decimal("140.00")
    response = client.get(url, {"currency": "USD"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["portfolio"]["outstanding"] == Decimal("7000.00")
    assert "7,000.00 $" in response.content.decode()
    # A creditor's own currency wins over the currency asked for.
    response = client.get(url, {"currency": "USD", "creditor": euros.pk}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["scope"].currency == "EUR" and response.context["portfolio"]["outstanding"] == Decimal("140.00")
