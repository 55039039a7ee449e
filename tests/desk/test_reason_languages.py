"""Reasons and next steps are stored as codes: switching the interface language changes every one
of them on the queue, the case page and the dashboard's case lists, with the reader's date and
money formats, whoever's action (in whichever language) wrote them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation

from cases.models import Case
from cases.services import case_create, payment_post
from contacts.models import ExcuseCategory
from contacts.services import contact_attempt_log
from debtors.services import debtor_create
from debtors.validators import dni_for
from tests.factories import CreditorFactory
from tests.text import said

pytestmark = pytest.mark.django_db
WEDNESDAY = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def cases(agent):
    creditor = CreditorFactory()
    with time_machine.travel(WEDNESDAY, tick=False):
        made = []
        for n in range(3):
            debtor = debtor_create(actor=None, name=f"Deudora {n}", document_type="dni", document_number=dni_for(41_000_000 + n),
                                   contact_points=[{"kind": "phone", "value": f"+34611{n:06d}", "is_primary": True}])
            made.append(case_create(actor=None, creditor=creditor, debtor=debtor, reference=f"LANG-{n}", original_amount=Decimal("1500.00"),
                                    due_date=WEDNESDAY.date() - dt.timedelta(days=12), assigned_agent=agent, now=WEDNESDAY))
        # Each action taken in a different language: what is stored must not depend on it.
        with translation.override("es"):
            contact_attempt_log(actor=agent, case_id=made[0].pk, channel="phone", outcome="excuse", statement_kind="excuse",
                                excuse_category=ExcuseCategory.objects.get(code="invoice_not_received"), now=WEDNESDAY)
        with translation.override("en"):
            payment_post(actor=agent, case_id=made[1].pk, amount=Decimal("1200.00"), received_on=WEDNESDAY.date(), now=WEDNESDAY)
    return made


def page_text(client, url: str, language: str) -> str:
    client.cookies["django_language"] = language
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&gt;", ">")


def test_switching_language_changes_every_reason_and_next_step(login, agent, supervisor, cases):
    with time_machine.travel(WEDNESDAY + dt.timedelta(hours=1), tick=False):
        client = login(agent)
        fresh = list(Case.objects.filter(pk__in=[c.pk for c in cases]).order_by("pk"))
        # The queue shows each case's next step; its page shows the why and the next step.
        shown = [(reverse("desk:queue"), [c.next_action_note for c in fresh])]
        shown += [(reverse("desk:detail", args=[c.pk]), [c.objective_reason, c.next_action_note]) for c in fresh]
        for url, values in shown:
            en, es = page_text(client, url, "en"), page_text(client, url, "es")
            for value in values:
                english, spanish = said(value, "en"), said(value, "es")
                assert english and english != spanish
                assert english in en and english not in es, english
                assert spanish in es and spanish not in en, spanish
        detail_en = page_text(client, reverse("desk:detail", args=[cases[1].pk]), "en")
        detail_es = page_text(client, reverse("desk:detail", args=[cases[1].pk]), "es")
        assert "Paid 1,200.00 € on 11/25/2026 with no agreement for the rest → Get a commitment" in detail_en
        assert "Pagó 1\xa0200,00 € el 25/11/2026 sin acuerdo para el resto → Obtener un compromiso" in detail_es
        barrier_es = page_text(client, reverse("desk:detail", args=[cases[0].pk]), "es")
        assert "Excusa: «No ha recibido la factura» el 25/11/2026, una barrera de pago → Eliminar barreras" in barrier_es

        dashboard = login(supervisor)
        drill = reverse("reports:drill") + "?kind=open"
        en, es = page_text(dashboard, drill, "en"), page_text(dashboard, drill, "es")
        assert "with no agreement for the rest" in en and "sin acuerdo para el resto" not in en
        assert "sin acuerdo para el resto" in es and "with no agreement for the rest" not in es
        assert "New case, 12 days past due → Remind" in en and "Expediente nuevo, 12 días de atraso → Recordar" in es


def test_the_timeline_shows_reasons_and_pauses_in_words(login, agent, cases):
    from debtors.services import debtor_set_flags

    case = cases[0]
    with time_machine.travel(WEDNESDAY + dt.timedelta(hours=2), tick=False):
        debtor_set_flags(actor=agent, debtor_id=case.debtor_id, bankruptcy=True)
        client = login(agent)
        en = page_text(client, reverse("desk:timeline", args=[case.pk]), "en")
        es = page_text(client, reverse("desk:timeline", args=[case.pk]), "es")
    assert "'code'" not in en and "{" not in en.split("Timeline")[-1]
    assert "Excuse: «Invoice not received» on 11/25/2026, a payment barrier → Remove barriers" in en
    assert "Paused" in en and "in bankruptcy" in en
    assert "En pausa" in es and "en concurso de acreedores" in es and "Eliminar barreras" in es
