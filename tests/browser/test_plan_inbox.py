"""A supervisor works the inbox of proposed payment plans in a real browser: approves one beyond
the guardrails, rejects another (the browser asks for confirmation first), and an admin creates a
new message template."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from cases.models import PaymentPlan
from cases.services import plan_create, plan_schedule
from contacts.models import MessageTemplate
from tests.factories import CaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _propose(agent, count: int) -> PaymentPlan:
    case = CaseFactory(assigned_agent=agent, original_amount=Decimal("1000"), fees=Decimal("0"), balance=Decimal("1000"))
    first = timezone.localdate() + dt.timedelta(days=3)
    rows = [(d, a) for _n, d, a in plan_schedule(total=Decimal("900"), count=count, frequency="monthly", first_date=first)]
    return plan_create(actor=agent, case_id=case.pk, total_amount=Decimal("900"), frequency="monthly", instalments=rows, agreed=False)


def test_supervisor_approves_and_rejects_proposed_plans(page, live_server, screenshot, browser_login, supervisor, agent):
    beyond, within = _propose(agent, 18), _propose(agent, 3)
    browser_login(supervisor)
    page.get_by_role("link", name="Planes por acordar").click()
    page.get_by_test_id(f"plan-row-{beyond.pk}").get_by_text("Necesita aprobación").wait_for()
    screenshot("plan-inbox")
    page.get_by_test_id(f"plan-agree-{beyond.pk}").click()
    page.get_by_text("ya está en vigor").wait_for()
    assert PaymentPlan.objects.get(pk=beyond.pk).status == "active"

    # Reject: the first confirmation is dismissed (nothing happens), the second accepted.
    page.get_by_test_id(f"plan-reason-{within.pk}").fill("El deudor no puede asumir la cuota")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_test_id(f"plan-cancel-{within.pk}").click()
    page.wait_for_timeout(300)
    assert PaymentPlan.objects.get(pk=within.pk).status == "proposed"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id(f"plan-cancel-{within.pk}").click()
    page.get_by_test_id("plan-inbox-empty").wait_for()
    assert PaymentPlan.objects.get(pk=within.pk).status == "cancelled"


def test_admin_creates_a_message_template(page, live_server, screenshot, browser_login, admin_user):
    browser_login(admin_user)
    page.goto(f"{live_server.url}/manage/templates/")
    page.get_by_test_id("new-template").click()
    page.fill("#id_name", "WhatsApp compromiso")
    page.select_option("#id_objective", "get_commitment")
    page.select_option("#id_channel", "whatsapp")
    page.fill("#id_body", "Hola {{ debtor_name }}, ¿qué día puede pagar {{ amount_due }}? {{ opt_out_text }}")
    page.get_by_test_id("create-template").click()
    page.get_by_text("Plantilla creada como versión 1").wait_for()
    screenshot("template-created")
    template = MessageTemplate.objects.get(name="WhatsApp compromiso")
    assert (template.objective, template.channel, template.current_version.number) == ("get_commitment", "whatsapp", 1)
