"""A supervisor opens the dashboard, filters, drills down and reassigns, in headless chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from cases.models import Case
from collections_crm.accounts.models import Role
from collections_crm.audit.models import AuditLog
from collections_crm.reports.services import facts_rebuild, team_priority_set
from tests.conftest import ARTIFACTS
from tests.factories import UserFactory
from tests.reports.demo import build_demo


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_supervisor_filters_drills_down_and_reassigns(live_server, page, browser_login, supervisor, agent, teammate, outsider, team):
    third = UserFactory(username="agent3", role=Role.AGENT, team=team, first_name="Lucía", last_name="Navarro")
    build_demo([agent, teammate, third, outsider])
    team_priority_set(actor=supervisor, team=team, focus_buckets=["31-60"], focus_objectives=["get_commitment"],
                      note="Primero los de 31–60 días con promesa incumplida.")
    facts_rebuild(full=True)
    ARTIFACTS.mkdir(exist_ok=True)

    page.set_viewport_size({"width": 1440, "height": 1000})
    browser_login(supervisor)
    page.goto(f"{live_server.url}/portfolio/")
    expect(page.get_by_test_id("dashboard-title")).to_be_visible()
    page.wait_for_function("() => document.querySelectorAll('canvas').length >= 7 && Chart.getChart('chart-aging') !== undefined")
    page.screenshot(path=str(ARTIFACTS / "reports-dashboard.png"), full_page=False)
    expect(page.get_by_test_id("team-priority")).to_contain_text("31")
    for section in ("promises", "activity", "objectives", "techniques", "compliance"):
        page.locator(f"#{section}").screenshot(path=str(ARTIFACTS / f"reports-section-{section}.png"))
    # Another team's agent is not even offered.
    assert page.locator("select[name=agent] option", has_text=outsider.display_name()).count() == 0
    everyone = page.get_by_test_id("kpi-outstanding").inner_text()

    page.select_option("select[name=agent]", str(agent.pk))
    page.get_by_test_id("apply-filters").click()
    expect(page.locator("select[name=agent]")).to_have_value(str(agent.pk))
    assert page.get_by_test_id("kpi-outstanding").inner_text() != everyone
    page.select_option("select[name=agent]", "")
    page.get_by_test_id("apply-filters").click()

    page.get_by_test_id("table-aging").locator("tbody tr").nth(2).locator("a.drill-link").first.click()  # 31–60 days: its cases
    expect(page.get_by_test_id("drill-title")).to_contain_text("31")
    rows = page.get_by_test_id("drill-table").locator("tbody tr")
    assert rows.count() >= 2
    others = [rows.nth(i) for i in range(rows.count()) if rows.nth(i).get_by_test_id("case-agent").inner_text() != third.display_name()]
    picked = [row.locator("input[name=case_ids]").get_attribute("value") for row in others[:2]]
    assert len(picked) == 2
    for value in picked:
        page.check(f"input[name=case_ids][value='{value}']")
    page.select_option("select[name=agent]", str(third.pk))
    page.get_by_test_id("reassign-submit").click()
    expect(page.locator(".alert-success")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "reports-drill-reassigned.png"), full_page=True)
    assert set(Case.objects.filter(pk__in=picked).values_list("assigned_agent_id", flat=True)) == {third.pk}
    assert AuditLog.objects.filter(action="case.assigned", case_id__in=[int(v) for v in picked], actor=supervisor).count() == 2
