"""An agent's day in a real browser (headless chromium against the live server): log in, open
the queue, take the next case, log a call, record a promise, watch the page update in place,
log out; a second agent is refused the first agent's case."""

from __future__ import annotations

import datetime as dt
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from cases.services import barrier_open, promise_record
from collections_crm.accounts.models import Role
from contacts.models import ExcuseCategory, Technique
from contacts.services import contact_attempt_log
from tests.factories import PASSWORD, CaseFactory, ContactPointFactory, CreditorFactory, DebtorFactory, TeamFactory, UserFactory

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
playwright = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


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
            objective_reason=["Deuda recién vencida", "Primera excusa registrada", "Falta la copia de la factura",
                              "Promesa incumplida", "Sin respuesta tras 3 avisos"][i % 5],
            next_action_at=now + dt.timedelta(hours=(i - 4) * 7), next_action_note=["Llamada de recordatorio",
                                                                                   "Confirmar fecha de pago", "Enviar factura",
                                                                                   "Llamar por promesa incumplida"][i % 4],
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
    return cases


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_agents_day(live_server):
    sync_api = playwright
    team = TeamFactory(name="Norte")
    agent = UserFactory(username="lucia", first_name="Lucía", last_name="Gestora", role=Role.AGENT, team=team)
    other = UserFactory(username="pedro", first_name="Pedro", last_name="Otro", role=Role.AGENT, team=team)
    cases = _workday(agent)
    ARTIFACTS.mkdir(exist_ok=True)
    technique = Technique.objects.get(code="avoid_excuses")

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="es-ES")
        page.set_default_timeout(15000)

        def log_in(username):
            page.goto(f"{live_server.url}/accounts/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", PASSWORD)
            page.click("main form button[type=submit]")
            page.wait_for_url(re.compile(r".*/$"))

        log_in("lucia")
        page.goto(f"{live_server.url}/cases/")
        rows = page.locator("[data-testid=queue-row]")
        assert rows.count() == len(cases)
        page.screenshot(path=str(ARTIFACTS / "queue.png"), full_page=True)

        page.click("[data-testid=next-case]")
        page.wait_for_url(re.compile(r".*/cases/\d+/$"))
        case_id = int(re.search(r"/cases/(\d+)/", page.url).group(1))
        assert case_id == cases[0].pk  # the follow-up due longest ago
        page.evaluate("window.__sameDocument = true")

        form = page.locator("[data-testid=form-interaction]")
        form.locator("select[name=objective]").select_option("get_commitment")
        form.locator(f"input[name=techniques][value='{technique.pk}']").check()
        form.locator("select[name=outcome]").select_option("promise")
        form.locator("textarea[name=notes]").fill("Acepta pagar 300 € el viernes con transferencia.")
        form.locator("input[name=next_step]").fill("Comprobar el pago del viernes")
        follow = timezone.localtime() + dt.timedelta(days=3)
        form.locator("input[name=next_step_at]").fill(follow.strftime("%Y-%m-%dT%H:%M"))
        form.locator("[data-testid=save-interaction]").click()
        page.wait_for_selector("[data-testid=flash]")
        entry = page.locator("[data-testid=timeline-entry]").first
        assert entry.get_attribute("data-action") == "contact_attempt.logged"
        assert technique.name_es in entry.inner_text() or technique.name_en in entry.inner_text()
        assert "Comprobar el pago del viernes" in page.locator("[data-testid=next-action]").inner_text()

        # Keyboard: P opens the promise form with the cursor in its first field; Enter saves.
        page.locator("body").click(position={"x": 5, "y": 300})
        page.keyboard.press("p")
        amount = page.locator("[data-testid=form-promise] input[name=amount]")
        amount.wait_for(state="visible")
        assert page.evaluate("document.activeElement.name") == "amount"
        amount.fill("300")
        page.locator("[data-testid=form-promise] input[name=due_date]").fill((timezone.localdate() + dt.timedelta(days=3)).isoformat())
        page.keyboard.press("Enter")
        page.wait_for_function("document.querySelector('[data-testid=timeline-entry]').dataset.action === 'promise.recorded'")
        assert "300" in page.locator("[data-testid=timeline-entry]").first.inner_text()
        assert page.locator("[data-testid=case-status]").inner_text().strip() in ("Promesa de pago", "Promise to pay")
        assert page.evaluate("window.__sameDocument") is True  # no reload happened
        page.screenshot(path=str(ARTIFACTS / "case.png"), full_page=True)

        page.click("[data-testid=user-menu]")
        page.click("[data-testid=logout]")
        page.wait_for_url(re.compile(r".*/accounts/login/.*"))

        log_in("pedro")
        response = page.goto(f"{live_server.url}/cases/{case_id}/")
        assert response.status == 404
        browser.close()
    assert other.assigned_cases.count() == 0
