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
    expect(page.locator("[data-testid=counts]")).to_contain_text("3")
    screenshot("imports-report")


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
