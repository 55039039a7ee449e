"""An admin walks the policies pages in a real browser: the rules editor refuses an unreachable
rule beside the field, the "why" tester explains a case, the history shows a diff."""

from __future__ import annotations

import pytest

from contacts.models import MessageTemplate, StrategyRule
from contacts.services import template_save_version
from tests.factories import CaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_admin_policies_journey(page, live_server, screenshot, browser_login, admin_user, agent):
    case = CaseFactory(assigned_agent=agent)
    template = MessageTemplate.objects.get(objective="remind", channel="sms", language="es")
    template_save_version(actor=admin_user, template_id=template.pk, subject="",
                          body="{{ company_name }}: saldo de {{ amount_due }}. {{ opt_out_text }}")
    browser_login(admin_user)

    page.goto(f"{live_server.url}/manage/policies/")
    screenshot("adminarea-policies")
    page.get_by_test_id("edit-rules").click()
    rows = page.get_by_test_id("rule-row")
    last = rows.nth(rows.count() - 1)  # the empty extra row
    last.locator("input[name$=-position]").fill("999")
    last.locator("input[name$=-name]").fill("Demasiado tarde")
    last.locator("select[name$=-condition]").select_option("refusal")
    last.locator("select[name$=-objective]").select_option("pressure")
    page.get_by_test_id("save-rules").click()
    error = page.locator(".invalid-feedback").first
    error.wait_for()
    screenshot("adminarea-rules-error")
    assert StrategyRule.objects.filter(name="Demasiado tarde").count() == 0

    page.goto(f"{live_server.url}/manage/policies/why/?case={case.pk}")
    page.get_by_test_id("why-matched").wait_for()
    assert page.get_by_test_id("why-objective").get_attribute("data-objective") == "remind"
    screenshot("adminarea-why")

    page.goto(f"{live_server.url}/manage/templates/{template.pk}/history/")
    assert "+{{ company_name }}: saldo de {{ amount_due }}." in page.get_by_test_id("diff").inner_text()
    screenshot("adminarea-history")
    page.get_by_test_id("rollback-1").click()
    page.locator(".alert-success").wait_for()
    template.refresh_from_db()
    assert template.current_version.number == 3

    page.goto(f"{live_server.url}/manage/catalogues/")
    screenshot("adminarea-catalogues")
