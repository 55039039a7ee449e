"""An agent's day in a real browser (headless chromium against the live server): log in, open
the queue, take the next case, log a call, record a promise, watch the page update in place,
log out; a second agent is refused the first agent's case."""

from __future__ import annotations

import datetime as dt
import importlib
import re
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from cases.models import Case
from cases.services import barrier_open, promise_record
from collections_crm.accounts.models import Role
from contacts.models import ExcuseCategory, Technique
from contacts.services import contact_attempt_log
from tests.factories import CaseFactory, ContactPointFactory, CreditorFactory, DebtorFactory, TeamFactory, UserFactory


def _catalogues():
    """The techniques and excuse catalogues come from a data migration. A transactional test that
    ran before may have flushed them, and serialized_rollback cannot restore them here: once
    Playwright runs, Django hands this test a new connection object without the serialized copy.
    The seed is idempotent, so run it again."""
    importlib.import_module("contacts.migrations.0002_seed_catalogues").seed(django_apps, None)


def _workday(agent):
    """A believable queue: due follow-ups, a promise due today, new cases, and history."""
    now = timezone.now()
    today = timezone.localdate(now)
    creditors = [CreditorFactory(code="telco", name="Telefónica Empresas"), CreditorFactory(code="energia", name="Iberenergía S.A.")]
    names = ["Lucía Fernández Ortega", "Talleres Rivas S.L.", "Marcos Delgado Ruiz", "Carmen Soto Vidal", "Distribuciones Norte S.A.",
             "Javier Molina Prieto", "Elena Navarro Gil", "Hostal La Brisa S.L.", "Pablo Iglesias Romero", "Nuria Castro León"]
    zones = ["Europe/Madrid", "Atlantic/Canary", "America/Mexico_City"]
    cases = []
    for i, name in enumerate(names):
        debtor = DebtorFactory(name=name, kind="company" if "S." in name else "person", timezone=zones[i % 3],
                               do_not_contact=(i == 7))
        ContactPointFactory(debtor=debtor, value=f"+3461{i:07d}", label="móvil", is_primary=True)
        ContactPointFactory(debtor=debtor, kind="email", value=f"cliente{i}@example.es", label="facturación")
        amount = Decimal(str(380 + i * 417))
        case = CaseFactory(
            assigned_agent=agent, debtor=debtor, creditor=creditors[i % 2], reference=f"EXP-2026-{1040 + i}",
            original_amount=amount, fees=Decimal("25.00"), due_date=today - dt.timedelta(days=12 + i * 23),
            objective=["remind", "get_commitment", "remove_barriers", "get_commitment", "pressure"][i % 5],
            objective_reason={"text": ["Deuda recién vencida", "Primera excusa registrada", "Falta la copia de la factura",
                                       "Promesa incumplida", "Sin respuesta tras 3 avisos"][i % 5]},
            next_action_at=now + dt.timedelta(hours=(i - 4) * 7), next_action_note={"text": ["Llamada de recordatorio",
                                                                                            "Confirmar fecha de pago", "Enviar factura",
                                                                                            "Llamar por promesa incumplida"][i % 4]},
            status="new" if i in (5, 9) else "active",
        )
        cases.append(case)
    for case in cases[:5]:
        contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome="no_answer", occurred_at=now - dt.timedelta(days=2),
                            now=now - dt.timedelta(days=2))
    contact_attempt_log(actor=agent, case_id=cases[0].pk, channel="phone", outcome="excuse",
                        excuse_category=ExcuseCategory.objects.get(code="waiting_for_income"), statement_kind="excuse",
                        techniques=list(Technique.objects.filter(code__in=["dialogue", "payment_options"])),
                        notes="Dice que espera el cobro de un cliente a final de mes.", occurred_at=now - dt.timedelta(days=1),
                        now=now - dt.timedelta(days=1))
    barrier_open(actor=agent, case_id=cases[0].pk, kind="invoice_copy", description="Factura 2026/118")
    promise_record(actor=agent, case_id=cases[6].pk, amount=Decimal("200"), due_date=today)
    # The first four are due whatever the hour the test runs at: the replans above move each next
    # step to the debtor's next allowed hour, which at night is the next morning (nothing due).
    for i, case in enumerate(cases[:4]):
        Case.objects.filter(pk=case.pk).update(next_action_at=now + dt.timedelta(hours=(i - 4) * 7))
    return cases


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_agents_day(page, browser_login, screenshot, live_server):
    _catalogues()
    team = TeamFactory(name="Norte")
    agent = UserFactory(username="lucia", first_name="Lucía", last_name="Gestora", role=Role.AGENT, team=team)
    other = UserFactory(username="pedro", first_name="Pedro", last_name="Otro", role=Role.AGENT, team=team)
    cases = _workday(agent)
    technique = Technique.objects.get(code="avoid_excuses")

    browser_login(agent)
    page.get_by_role("link", name=re.compile("Mi cola|My queue")).click()
    page.wait_for_url(f"{live_server.url}/cases/")
    assert page.get_by_test_id("queue-row").count() == len(cases)
    first_in_queue = int(page.get_by_test_id("queue-row").first.get_attribute("data-case"))
    screenshot("queue-agent")

    page.get_by_test_id("next-case").click()
    page.wait_for_url(re.compile(r".*/cases/\d+/$"))
    case_id = int(re.search(r"/cases/(\d+)/", page.url).group(1))
    assert case_id == first_in_queue  # the most urgent case, as the queue shows it
    page.evaluate("window.__sameDocument = true")

    form = page.get_by_test_id("form-interaction")
    form.locator("select[name=objective]").select_option("get_commitment")
    form.locator(f"input[name=techniques][value='{technique.pk}']").check()
    form.locator("select[name=outcome]").select_option("promise")
    form.locator("textarea[name=notes]").fill("Acepta pagar 300 € el viernes con transferencia.")
    form.locator("input[name=next_step]").fill("Comprobar el pago del viernes")
    follow = timezone.localtime() + dt.timedelta(days=3)
    form.locator("input[name=next_step_at]").fill(follow.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_test_id("save-interaction").click()
    page.get_by_test_id("flash").wait_for()
    entry = page.get_by_test_id("timeline-entry").first
    assert entry.get_attribute("data-action") == "contact_attempt.logged"
    assert technique.name_es in entry.inner_text()
    assert "Comprobar el pago del viernes" in page.get_by_test_id("next-action").inner_text()

    # Keyboard: P opens the promise form with the cursor in its first field; Enter saves.
    page.keyboard.press("Escape")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("p")
    amount = page.get_by_test_id("form-promise").locator("input[name=amount]")
    amount.wait_for(state="visible")
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'amount'")
    amount.fill("300")
    page.get_by_test_id("form-promise").locator("input[name=due_date]").fill((timezone.localdate() + dt.timedelta(days=3)).isoformat())
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('[data-testid=timeline-entry]').dataset.action === 'promise.recorded'")
    assert "300" in page.get_by_test_id("timeline-entry").first.inner_text()
    assert page.get_by_test_id("case-status").inner_text().strip() == "Promesa de pago"
    assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded
    screenshot("case-agent")

    # The plan calculator shows the schedule before anything is saved.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("a")
    page.get_by_test_id("plan-preview").wait_for()
    assert page.get_by_test_id("plan-preview").locator("tbody tr").count() == 3
    page.get_by_test_id("form-plan").locator("input[name=instalment_count]").fill("4")
    page.get_by_test_id("form-plan").locator("input[name=instalment_count]").dispatch_event("change")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=plan-preview] tbody tr').length === 4")
    screenshot("case-plan-preview")

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")

    browser_login(other)
    response = page.goto(f"{live_server.url}/cases/{case_id}/")
    assert response.status == 404
    assert not other.assigned_cases.exists()
