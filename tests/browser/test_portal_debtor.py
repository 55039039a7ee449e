"""The debtor's self-service journey in a real browser on a phone-sized screen: from the link in
an e-mail the engine sent (a real Celery worker on Redis), prove who they are, see the balance,
pay part by the sandbox provider (balance lowered, promise kept, case re-planned, the agent sees
it on the timeline), choose a plan inside the guardrails; another debtor disputes (contact
paused, the agent's review task); wrong answers lock a link; a replayed callback posts nothing;
an expired link shows a clear page."""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from cases.models import Case, Payment
from cases.services import promise_record
from collections_crm.selfservice.links import link_issue
from collections_crm.selfservice.models import Checkout, PortalLink, ProviderEvent
from collections_crm.selfservice.providers import sandbox
from contacts.engine import followups_plan
from contacts.models import FollowUp, JurisdictionPack, OutboundMessage
from tests.brokers import requires_redis
from tests.factories import CaseFactory, ContactPointFactory, DebtorFactory

pytestmark = [pytest.mark.browser, pytest.mark.celery, requires_redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture
def celery_worker_options():
    return {"in_process": True}  # its mail reaches mail.outbox


@pytest.fixture
def phone(browser):
    """A phone-sized tab that fails the test on any Content-Security-Policy violation."""
    context = browser.new_context(locale="es-ES", **PHONE)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    violations: list[str] = []
    tab.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield tab
    context.close()
    assert not violations, violations


def _wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def _shot(tab, name: str) -> None:
    from tests.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _verify(tab, document_end: str, postal_code: str) -> None:
    tab.fill("input[name=document_end]", document_end)
    tab.fill("input[name=postal_code]", postal_code)
    tab.get_by_role("button", name="Continuar").click()


def test_debtor_pays_part_then_plans_and_another_disputes(
    phone, browser, live_server, settings, celery_worker, agent, browser_login, page,
):
    settings.CRM_PORTAL_BASE_URL = live_server.url
    JurisdictionPack.objects.create(code="test-any-time", name="Any time", countries="XX", start_time=dt.time(0),
                                    end_time=dt.time(23, 59, 59), weekdays="1,2,3,4,5,6,7", consent_channels="")
    ana = DebtorFactory(name="Ana Beltrán Ruiz", document_number="12345678Z", postal_code="28013", country="XX", language="es")
    ContactPointFactory(debtor=ana, kind="email", value="ana@example.com")
    case = CaseFactory(debtor=ana, assigned_agent=agent, reference="REF-PORTAL-1")

    # The engine writes and the worker sends the first reminder e-mail, with a personal link.
    followups_plan(case_ids=[case.pk], now=timezone.now())
    FollowUp.objects.filter(case=case, status="pending", channel="email").update(due_at=timezone.now() - dt.timedelta(minutes=1))
    from contacts.tasks import tick

    tick.delay()
    _wait_for(lambda: OutboundMessage.objects.filter(case=case, status="sent").exists())
    sent = _wait_for(lambda: [m for m in mail.outbox if "ana@example.com" in m.to])
    link = re.search(re.escape(live_server.url) + r"/p/o/[\w-]+/", sent[0].body).group(0)
    # Meanwhile she promised the agent 200 on the phone.
    promise_record(actor=agent, case_id=case.pk, amount=Decimal("200.00"), due_date=timezone.localdate() + dt.timedelta(days=3))
    before = Case.objects.get(pk=case.pk)

    # One wrong answer (which says nothing about which part), then the right ones.
    phone.goto(link)
    phone.wait_for_url(re.compile(r"/p/verify/$"))
    assert "REF-PORTAL-1" not in phone.content()
    _verify(phone, "9999", "28013")
    phone.locator(".alert-danger").wait_for()
    _verify(phone, "678Z", "28013")
    phone.wait_for_url(re.compile(rf"/p/case/{case.pk}/$"))
    assert "1000,00 €" in phone.locator(".portal-balance").inner_text().replace("\xa0", "")
    _shot(phone, "portal-case-phone")

    # Pay part (the promised 200) with the sandbox provider.
    phone.get_by_role("link", name="Pagar ahora").click()
    phone.fill("input[name=amount]", "200")
    phone.get_by_role("button", name="Continuar al pago seguro").click()
    phone.wait_for_url(re.compile(r"/p/sandbox/"))
    _shot(phone, "portal-sandbox-checkout")
    phone.get_by_role("button", name="Pagar", exact=True).click()
    phone.get_by_text("Gracias: pago recibido").wait_for()
    _shot(phone, "portal-payment-received")
    after = Case.objects.get(pk=case.pk)
    assert after.balance == Decimal("800.00")
    assert after.promises.get().status == "kept"
    assert after.version > before.version and after.last_outcome == "payment"
    assert after.objective_reason != before.objective_reason or after.next_action_at != before.next_action_at

    # A replayed callback (the same signed event again) posts nothing.
    checkout = Checkout.objects.get(case=case)
    event = ProviderEvent.objects.get(checkout=checkout, outcome="posted")
    body = sandbox.callback_body(event_id=event.event_id, order=checkout.order, paid=True, amount=checkout.amount, currency="EUR")
    replay = phone.request.post(f"{live_server.url}/webhooks/payments/sandbox/", data=body,
                                headers={"Content-Type": "application/json", sandbox.HEADER: sandbox.sign(body)})
    assert replay.status == 200 and replay.text() == "duplicate"
    forged = phone.request.post(f"{live_server.url}/webhooks/payments/sandbox/", data=body,
                                headers={"Content-Type": "application/json", sandbox.HEADER: "t=1,v1=00"})
    assert forged.status == 400
    assert Payment.objects.filter(case=case).count() == 1

    # Then a plan inside the guardrails, live at once.
    phone.get_by_role("link", name="Volver a su cuenta").click()
    phone.get_by_role("link", name="Pagar a plazos").click()
    phone.get_by_role("button", name="Elegir 4 pagos").click()
    phone.get_by_text("Su plan de pagos ha empezado").wait_for()
    _shot(phone, "portal-plan-live")
    plan = Case.objects.get(pk=case.pk).plans.get()
    assert plan.status == "active" and plan.instalment_count == 4 and plan.total_amount == Decimal("800.00")

    # The agent sees the portal's work on the case's timeline.
    browser_login(agent)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    timeline = page.locator("#timeline")
    timeline.get_by_text("200,00").first.wait_for()
    assert "Portal" in timeline.inner_text() or "portal" in timeline.inner_text()

    # Another debtor disputes: collection pauses and the agent gets the review task.
    luis = DebtorFactory(name="Luis Gómez", document_number="87654321X", birth_date=dt.date(1975, 3, 9), country="XX")
    other = CaseFactory(debtor=luis, assigned_agent=agent, creditor=case.creditor, reference="REF-PORTAL-2")
    given = link_issue(case_id=other.pk, source="agent", actor=agent)
    second = browser.new_context(locale="es-ES", **PHONE).new_page()
    second.goto(given.url)
    second.fill("input[name=document_end]", "321X")
    second.fill("input[name=birth_date]", "1975-03-09")
    second.get_by_role("button", name="Continuar").click()
    second.get_by_role("link", name="No estoy de acuerdo con esta deuda").click()
    second.fill("textarea[name=reason]", "Esta factura la pagué en marzo por transferencia.")
    second.get_by_role("button", name="Enviar mi disputa").click()
    second.get_by_text("Hemos recibido su disputa").wait_for()
    _shot(second, "portal-dispute-sent")
    disputed = Case.objects.get(pk=other.pk)
    assert disputed.status == "disputed" and disputed.paused_at is not None
    assert disputed.next_action_at is not None and disputed.next_action_note["code"] == "review_dispute"
    assert not FollowUp.objects.filter(case=disputed, status="pending", kind="automatic").exists()
    second.context.close()

    # Wrong answers lock a link after the admin's limit (5).
    third = browser.new_context(locale="es-ES", **PHONE).new_page()
    third.goto(link_issue(case_id=other.pk, source="sms").url)
    for _ in range(5):
        _verify(third, "0000", "00000")
    third.get_by_text("este enlace está bloqueado").wait_for()
    _shot(third, "portal-locked")
    third.context.close()

    # An expired link shows a clear page.
    expired = link_issue(case_id=case.pk, source="email")
    PortalLink.objects.filter(pk=expired.link.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    fourth = browser.new_context(locale="es-ES", **PHONE).new_page()
    fourth.goto(expired.url)
    fourth.get_by_text("Este enlace ya no funciona").wait_for()
    assert "REF-PORTAL-1" not in fourth.content()
    _shot(fourth, "portal-link-expired")
    fourth.context.close()
