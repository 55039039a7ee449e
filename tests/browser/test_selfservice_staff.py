"""The staff side of self-service in headless chromium: an agent gives a debtor a personal link
on the case page, reads it once, ends every link after confirming; a supervisor reads the
dashboard's channel view."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import expect

from collections_crm.audit.services import audit_record
from collections_crm.reports.services import facts_rebuild
from collections_crm.selfservice.models import Checkout, PortalLink
from contacts.services import contact_attempt_log
from tests.conftest import ARTIFACTS
from tests.factories import CaseFactory, PaymentFactory


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_agent_gives_a_link_and_ends_them_and_the_supervisor_sees_the_channels(live_server, page, browser_login, agent, supervisor):
    ARTIFACTS.mkdir(exist_ok=True)
    case = CaseFactory(assigned_agent=agent, debtor__postal_code="28013")
    now = timezone.now()
    # A visit to the portal that paid online but could not be posted (it must stand out).
    with transaction.atomic():
        contact_attempt_log(actor=None, case_id=case.pk, channel="portal", direction="inbound", outcome="promise",
                            now=now - dt.timedelta(hours=2))
        audit_record(actor=None, action="portal.promise", obj=case, case_id=case.pk,
                     after={"amount": "120.00", "due_date": (now + dt.timedelta(days=7)).date().isoformat()}, at=now - dt.timedelta(hours=2))
    Checkout.objects.create(case=case, order="0001ABCDEFGH", provider="sandbox", amount=Decimal("80.00"), currency="EUR",
                            status="refused", failure_reason="El expediente se cerró mientras tanto", created_at=now - dt.timedelta(hours=1))
    paid = PaymentFactory(case=case, amount=Decimal("50.00"), received_on=timezone.localdate(), created_at=now)
    Checkout.objects.create(case=case, order="0002ABCDEFGH", provider="sandbox", amount=Decimal("50.00"), currency="EUR",
                            status="paid", created_at=now, payment=paid)

    page.set_viewport_size({"width": 1440, "height": 1000})
    page.on("dialog", lambda dialog: dialog.accept())
    browser_login(agent)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    panel = page.get_by_test_id("selfservice-panel")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("checkout-refused-alert")).to_be_visible()
    page.get_by_test_id("link-issue").click()
    expect(page.get_by_test_id("issued-link")).to_be_visible()
    code = page.get_by_test_id("issued-code").inner_text()
    assert len(code) == 11 and code[5] == "-"
    assert "/p/o/" in page.get_by_test_id("issued-url").inner_text()
    panel.screenshot(path=str(ARTIFACTS / "selfservice-panel-issued.png"))
    page.screenshot(path=str(ARTIFACTS / "selfservice-case-page.png"), full_page=True)
    expect(page.get_by_test_id("link-row")).to_have_count(1)

    page.get_by_test_id("links-revoke").click()  # confirms (the dialog is accepted)
    expect(page.locator(".alert-success")).to_contain_text("enlace personal anulado")
    expect(page.get_by_test_id("link-revoked")).to_have_count(1)
    expect(page.get_by_test_id("issued-link")).to_have_count(0)
    panel.screenshot(path=str(ARTIFACTS / "selfservice-panel-ended.png"))
    assert PortalLink.objects.get(case=case).revoked_at is not None

    facts_rebuild(full=True)
    page.context.clear_cookies()
    browser_login(supervisor)
    page.goto(f"{live_server.url}/portfolio/")
    page.wait_for_function("() => typeof Chart !== 'undefined' && Chart.getChart('chart-channels') !== undefined")
    section = page.locator("#channels")
    expect(section).to_contain_text("Portal de autoservicio")
    expect(page.get_by_test_id("portal-links")).to_contain_text("Entregado por un gestor")
    section.screenshot(path=str(ARTIFACTS / "reports-section-channels.png"))
