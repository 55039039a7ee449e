"""An admin imports a messy creditor file in the browser; anyone opens the API docs."""

from __future__ import annotations

import re

import pytest

from collections_crm.imports.models import ImportJob
from collections_crm.imports.services import import_job_run
from tests.factories import CreditorFactory
from tests.imports.test_loader import MESSY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_admin_imports_a_portfolio_and_reads_the_report(page, live_server, browser_login, admin_user, screenshot, settings, tmp_path):
    from playwright.sync_api import expect

    settings.MEDIA_ROOT = tmp_path
    creditor = CreditorFactory(name="Banco Ejemplo")
    browser_login(admin_user)
    page.click("nav a[href='/imports/']")
    page.select_option("select[name=creditor]", str(creditor.pk))
    page.set_input_files("input[name=file]", files=[{"name": "cartera.csv", "mimeType": "text/csv", "buffer": MESSY}])
    page.click("[data-testid=upload-form] button[type=submit]")
    page.wait_for_url(re.compile(r"/imports/\d+/$"))
    expect(page.locator("[data-testid=preview]")).to_contain_text("EXP-001")
    expect(page.locator("select[name=map_reference]")).to_have_value("Referencia")
    screenshot("imports-mapping")
    page.click("[data-testid=start-import]")
    expect(page.locator("[data-testid=progress]")).to_be_visible()
    job = ImportJob.objects.get()
    import_job_run(job_id=job.pk)  # what the worker does (the worker itself has its own test)
    expect(page.locator("[data-testid=report]")).to_contain_text("EXP-001", timeout=15_000)
    expect(page.locator("[data-testid=count-rejected]")).to_have_text("4")
    screenshot("imports-report")


def test_a_real_first_day_file_imports_every_good_debt_with_the_suggested_mapping(
        page, live_server, browser_login, admin_user, screenshot, settings, tmp_path):
    """One amount column, bad phones and e-mails, two bad rows: nothing to remap, every good debt
    imported, the warnings and the rejections listed apart."""
    from playwright.sync_api import expect

    from cases.models import Case
    from tests.imports.test_first_day import SINGLE_AMOUNT

    settings.MEDIA_ROOT = tmp_path
    creditor = CreditorFactory(name="Energía del Sur")
    browser_login(admin_user)
    page.click("nav a[href='/imports/']")
    page.select_option("select[name=creditor]", str(creditor.pk))
    page.set_input_files("input[name=file]", files=[{"name": "cartera.csv", "mimeType": "text/csv", "buffer": SINGLE_AMOUNT}])
    page.click("[data-testid=upload-form] button[type=submit]")
    page.wait_for_url(re.compile(r"/imports/\d+/$"))
    expect(page.locator("select[name=map_balance]")).to_have_value("Importe pendiente")
    rows = page.locator("[data-testid=preview-row]")
    expect(rows).to_have_count(5)
    assert [rows.nth(i).get_attribute("data-result") for i in range(5)] == ["ok", "warning", "warning", "rejected", "rejected"]
    expect(page.locator("[data-testid=preview-warning]").first).to_contain_text("+34 612 34")
    screenshot("imports-first-day-preview")
    page.click("[data-testid=start-import]")  # the suggested mapping, as it is
    expect(page.locator("[data-testid=progress]")).to_be_visible()
    import_job_run(job_id=ImportJob.objects.get().pk)
    expect(page.locator("[data-testid=report]")).to_contain_text("Importe pendiente", timeout=15_000)
    expect(page.locator("[data-testid=count-warned]")).to_have_text("2")
    expect(page.locator("[data-testid=count-rejected]")).to_have_text("2")
    expect(page.locator("[data-testid=report] tbody tr")).to_have_count(2)
    warnings = page.locator("[data-testid=warnings] tbody tr")
    expect(warnings).to_have_count(3)  # those of the imported lines (the CSV has line 6's too)
    expect(page.locator("[data-testid=warnings]")).to_contain_text("ana@@example")
    screenshot("imports-first-day-report")
    assert sorted(Case.objects.values_list("reference", flat=True)) == ["E-1", "E-2", "E-3"]


def test_api_docs_render_from_local_assets(page, live_server, browser_login, agent, screenshot):
    from playwright.sync_api import expect

    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server.url) else None)
    browser_login(agent)
    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Collections CRM API", timeout=15_000)
    expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/payments/")
    screenshot("api-docs")
    assert [u for u in outside if not u.startswith("data:")] == []
