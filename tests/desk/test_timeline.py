"""The case timeline: every event of the case however it was written (services with their audit
rows, the importer, the demo's bulk inserts without any), once each, newest first, in a fixed
number of queries whatever the size of the history."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import Barrier, Instalment, Payment, PaymentPlan, PromiseToPay
from cases.services import barrier_open, barrier_remove, case_assign, payment_post, plan_create, promise_record
from collections_crm.audit.models import AuditLog
from contacts.models import ContactAttempt, MessageTemplate, MessageTemplateVersion, OutboundMessage, Technique
from contacts.services import contact_attempt_log
from tests.factories import CaseFactory, ContactPointFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
HOUR = dt.timedelta(hours=1)


def timeline(client, case, lang="en", **params):
    response = client.get(reverse("desk:timeline", args=[case.pk]), params, HTTP_ACCEPT_LANGUAGE=lang, **HTMX)
    assert response.status_code == 200
    return response


def _version():
    # Its own template: the seeded ones are gone after a transactional test flushed the tables.
    template, _ = MessageTemplate.objects.get_or_create(name="timeline", objective="remind", channel="email", language="es")
    version, _ = MessageTemplateVersion.objects.get_or_create(template=template, number=1,
                                                              defaults={"subject": "Su saldo", "body": "Hola", "created_at": timezone.now()})
    return version


def bulk_history(case, *, start: dt.datetime, repeat: int = 1) -> None:
    """As the demo generator and bulk loads write it: domain rows only, no audit row. ``repeat``
    copies of one of each kind, the newest copy ending at ``start``."""
    point = ContactPointFactory(debtor=case.debtor, kind="email", value=f"d{case.pk}@example.com")
    version = _version()
    technique = Technique.objects.first()
    for n in range(repeat):
        at = start - n * 10 * HOUR
        attempts = ContactAttempt.objects.bulk_create([
            ContactAttempt(case=case, channel="phone", direction="inbound", objective="get_commitment", outcome="excuse",
                           occurred_at=at - 9 * HOUR, notes=f"bulk call {n}"),
        ])
        attempts[0].techniques.add(technique)
        OutboundMessage.objects.bulk_create([OutboundMessage(
            case=case, channel="email", objective="remind", contact_point=point, recipient=point.value, template_version=version,
            language="es", subject=f"Recordatorio {n}", body="Hola", status="sent", idempotency_key=f"tl-{case.pk}-{n}",
            not_before=at - 8 * HOUR, created_at=at - 8 * HOUR, sent_at=at - 8 * HOUR)])
        PromiseToPay.objects.bulk_create([
            PromiseToPay(case=case, amount=Decimal("100.00"), due_date=(at - 7 * HOUR).date(), status="broken",
                         created_at=at - 7 * HOUR, resolved_at=at - 6 * HOUR),
        ])
        Payment.objects.bulk_create([Payment(case=case, amount=Decimal("10.00"), received_on=(at - 5 * HOUR).date(),
                                             created_at=at - 5 * HOUR, reference=f"TRF{n}")])
        plans = PaymentPlan.objects.bulk_create([PaymentPlan(
            case=case, status="cancelled", total_amount=Decimal("300.00"), instalment_count=3, frequency="monthly",
            first_due_date=(at - 4 * HOUR).date(), created_at=at - 4 * HOUR)])
        Instalment.objects.bulk_create([Instalment(plan=plans[0], number=1, due_date=(at - 4 * HOUR).date(), amount=Decimal("300.00"))])
        Barrier.objects.bulk_create([Barrier(case=case, kind="invoice_copy", status="removed", opened_at=at - 3 * HOUR,
                                             removed_at=at - 2 * HOUR)])


@pytest.mark.django_db
def test_a_history_written_in_bulk_shows_every_kind(login, agent):
    """The demo's history (no audit rows at all) is on the timeline: every kind, with the
    contact's objective, outcome, technique, channel and direction."""
    case = CaseFactory(assigned_agent=agent)
    bulk_history(case, start=timezone.now())
    assert not AuditLog.objects.filter(case_id=case.pk).exists()
    client = login(agent)
    response = timeline(client, case)
    actions = [e.action for e in response.context["timeline"]]
    assert actions == ["barrier.removed", "barrier.opened", "plan.created", "payment.posted", "promise.broken",
                       "promise.recorded", "message.sent", "contact_attempt.logged"]
    page = response.content.decode()
    for text in ("Barrier removed", "Copy of the invoice", "Payment plan agreed", "Payment received", "Promise broken",
                 "Promise to pay recorded", "Message sent", "Recordatorio 0", "Phone call", "(inbound)", "Excuse", "Get a commitment",
                 "bulk call 0"):
        assert text in page, text
    technique = ContactAttempt.objects.get(case=case).techniques.get()
    assert technique.name in page
    # Each filter shows its own kinds.
    for kind, expected in (("contact", ["contact_attempt.logged"]), ("message", ["message.sent"]),
                           ("promise", ["promise.broken", "promise.recorded"]), ("payment", ["payment.posted"]),
                           ("plan", ["plan.created"]), ("barrier", ["barrier.removed", "barrier.opened"]),
                           ("assignment", []), ("status", [])):
        assert [e.action for e in timeline(client, case, kind=kind).context["timeline"]] == expected, kind
    spanish = timeline(client, case, lang="es").content.decode()
    assert "Promesa incumplida" in spanish and "Barrera eliminada" in spanish and "Mensaje enviado" in spanish
    assert "Pausas y restricciones" in spanish and "Ficha del expediente" in spanish


@pytest.mark.django_db
def test_events_written_through_the_services_show_once(login, agent, teammate, supervisor):
    """A service writes the domain row and its audit rows: the event shows once, with the case's
    changes it made folded in; what only the audit log tells (an assignment, an objective
    change) shows from there."""
    case = CaseFactory(assigned_agent=agent, balance=Decimal("1000.00"), original_amount=Decimal("1000.00"))
    base = timezone.now() - 10 * HOUR
    today = timezone.localdate()
    contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome="right_party", notes="hablamos",
                        techniques=list(Technique.objects.all()[:1]), now=base)
    promise_record(actor=agent, case_id=case.pk, amount=Decimal("100.00"), due_date=today + dt.timedelta(days=3), now=base + HOUR)
    payment_post(actor=agent, case_id=case.pk, amount=Decimal("100.00"), received_on=today, now=base + 2 * HOUR)
    barrier = barrier_open(actor=agent, case_id=case.pk, kind="invoice_copy", now=base + 3 * HOUR)
    barrier_remove(actor=agent, barrier_id=barrier.pk, now=base + 4 * HOUR)
    plan_create(actor=agent, case_id=case.pk, total_amount=Decimal("900.00"), frequency="monthly",
                instalments=[(today + dt.timedelta(days=30), Decimal("450.00")), (today + dt.timedelta(days=60), Decimal("450.00"))],
                now=base + 5 * HOUR)
    case_assign(actor=supervisor, case_id=case.pk, agent=teammate, now=base + 6 * HOUR)

    client = login(supervisor)
    entries = timeline(client, case).context["timeline"]
    counts = Counter(e.action for e in entries)
    for action in ("contact_attempt.logged", "promise.recorded", "payment.posted", "promise.kept", "barrier.opened",
                   "barrier.removed", "plan.created", "case.assigned"):
        assert counts[action] == 1, (action, counts)
    assert not {"case.contacted", "case.payment_posted", "case.promise_recorded", "case.plan_recorded"} & set(counts)
    payment = next(e for e in entries if e.action == "payment.posted")
    assert ("Balance", "1,000.00", "900.00") in payment.changes
    assert payment.actor == agent
    assigned = next(e for e in entries if e.action == "case.assigned")
    assert ("Agent", agent.display_name(), teammate.display_name()) in assigned.changes and assigned.actor == supervisor
    contact = next(e for e in entries if e.action == "contact_attempt.logged")
    assert contact.attempt.notes == "hablamos" and ("Status", "In progress", "In progress") not in contact.changes
    # Newest first.
    assert [e.at for e in entries] == sorted((e.at for e in entries), reverse=True)
    assert timeline(client, case, kind="assignment").context["timeline"][0].action == "case.assigned"


@pytest.mark.django_db
def test_a_sent_message_shows_once_not_also_as_its_contact_attempt(login, agent):
    case = CaseFactory(assigned_agent=agent)
    now = timezone.now()
    attempt = contact_attempt_log(actor=None, case_id=case.pk, channel="email", outcome="sent", now=now)
    OutboundMessage.objects.create(
        case=case, channel="email", objective="remind", recipient="d@example.com", template_version=_version(), language="es",
        subject="Su saldo", body="Hola", status="sent", idempotency_key="tl-once", not_before=now, created_at=now, sent_at=now,
        contact_attempt=attempt)
    entries = timeline(login(agent), case).context["timeline"]
    assert [e.action for e in entries if e.action.startswith(("message.", "contact_attempt."))] == ["message.sent"]


@pytest.mark.django_db
def test_an_imported_case_says_which_import_and_line_created_it(login, agent):
    case = CaseFactory(assigned_agent=agent)
    AuditLog.objects.create(at=timezone.now(), action="case.created", object_type="cases.case", object_id=str(case.pk),
                            case_id=case.pk, after={"import_job": 7, "line": 12})
    page = timeline(login(agent), case).content.decode()
    assert "Created by import #7, line 12" in page


@pytest.mark.django_db
def test_a_timeline_page_is_the_same_number_of_queries_for_a_small_and_a_large_history(
    login, agent, supervisor, teammate, django_assert_max_num_queries,
):
    small, large = CaseFactory(assigned_agent=agent), CaseFactory(assigned_agent=agent)
    now = timezone.now()
    bulk_history(small, start=now)
    bulk_history(large, start=now, repeat=60)  # 480 events
    for case in (small, large):
        # Audit-only events among the newest, with an agent named (the users query).
        case_assign(actor=supervisor, case_id=case.pk, agent=teammate, now=now + HOUR)
        contact_attempt_log(actor=supervisor, case_id=case.pk, channel="phone", outcome="no_answer", now=now + 2 * HOUR)
    client = login(supervisor)

    def count(case, **params):
        with CaptureQueriesContext(connection) as ctx:
            entries = timeline(client, case, **params).context["timeline"]
        return len(ctx.captured_queries), entries

    small_count, small_entries = count(small)
    large_count, large_entries = count(large)
    assert {e.action for e in large_entries} >= {e.action for e in small_entries} - {"case.objective_changed"}
    assert small_count == large_count, (small_count, large_count)
    # session, user (+team); the case (+debtor, creditor, agent); the timeline's count and page
    # (2); one query per source on the page: attempts + their techniques, messages, promises,
    # payments, plans, barriers, audit rows (8); the audit rows of the page's domain rows and
    # those folded into its entries; the agents named by assignments; the session save (3).
    with django_assert_max_num_queries(18):
        timeline(client, large)
    with django_assert_max_num_queries(18):
        timeline(client, large, page=20)
    with django_assert_max_num_queries(18):
        timeline(client, small)
