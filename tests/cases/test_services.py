"""Core services: every change writes an audit row; bad input writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cases.choices import CaseStatus, PromiseStatus
from cases.models import Case, Payment, PromiseToPay
from cases.services import (
    StaleVersionError,
    case_assign,
    case_create,
    case_set_status,
    payment_post,
    promise_record,
)
from collections_crm.audit.models import AuditLog
from contacts.services import contact_attempt_log
from debtors.services import debtor_create, debtor_set_flags
from tests.factories import CaseFactory, CreditorFactory, DebtorFactory, PromiseFactory

pytestmark = pytest.mark.django_db


def actions_for(case: Case) -> list[str]:
    return list(AuditLog.objects.filter(case_id=case.pk).order_by("id").values_list("action", flat=True))


def test_case_create_writes_audit_row(agent):
    case = case_create(
        actor=agent, creditor=CreditorFactory(), debtor=DebtorFactory(), reference=" INV-1 ",
        original_amount=Decimal("500.00"), fees=Decimal("25.00"), due_date=dt.date(2026, 1, 31),
    )
    assert case.reference == "INV-1"
    assert case.balance == Decimal("525.00")
    entry = AuditLog.objects.get(action="case.created")
    assert entry.actor == agent and entry.object_id == str(case.pk) and entry.case_id == case.pk
    assert entry.after["balance"] == "525.00"


def test_case_create_refuses_bad_input_and_writes_nothing(agent):
    with pytest.raises(ValidationError) as exc:
        case_create(
            actor=agent, creditor=CreditorFactory(), debtor=DebtorFactory(), reference="X",
            original_amount=Decimal("-5"), due_date=dt.date(2026, 1, 31),
        )
    assert "original_amount" in exc.value.message_dict or "__all__" in exc.value.message_dict
    assert Case.objects.count() == 0
    assert AuditLog.objects.count() == 0


def test_payment_lowers_balance_settles_promise_and_closes_case(agent):
    case = CaseFactory(assigned_agent=agent, original_amount=Decimal("300.00"))
    promise = PromiseFactory(case=case, amount=Decimal("100.00"))
    payment_post(actor=agent, case_id=case.pk, amount=Decimal("100.00"), received_on=timezone.localdate())
    case.refresh_from_db()
    promise.refresh_from_db()
    assert case.balance == Decimal("200.00")
    assert promise.status == PromiseStatus.KEPT
    assert case.status == CaseStatus.ACTIVE

    payment_post(actor=agent, case_id=case.pk, amount=Decimal("200.00"), received_on=timezone.localdate())
    case.refresh_from_db()
    assert case.balance == 0 and case.status == CaseStatus.PAID and case.closed_at is not None
    assert case.next_action_at is None
    assert actions_for(case).count("payment.posted") == 2
    assert "promise.kept" in actions_for(case)
    paid_audit = AuditLog.objects.filter(action="case.payment_posted", case_id=case.pk).order_by("id").last()
    assert paid_audit.before["status"] == "active" and paid_audit.after["status"] == "paid"


def test_payment_larger_than_balance_is_refused_and_nothing_written(agent):
    case = CaseFactory(assigned_agent=agent, original_amount=Decimal("50.00"))
    with pytest.raises(ValidationError) as exc:
        payment_post(actor=agent, case_id=case.pk, amount=Decimal("50.01"), received_on=timezone.localdate())
    assert "amount" in exc.value.message_dict
    assert Payment.objects.count() == 0 and AuditLog.objects.count() == 0
    case.refresh_from_db()
    assert case.balance == Decimal("50.00")


def test_payment_idempotency_key_posts_once(agent):
    case = CaseFactory(assigned_agent=agent)
    first = payment_post(actor=agent, case_id=case.pk, amount=Decimal("10.00"), received_on=timezone.localdate(), idempotency_key="k1")
    second = payment_post(actor=agent, case_id=case.pk, amount=Decimal("10.00"), received_on=timezone.localdate(), idempotency_key="k1")
    assert first.pk == second.pk
    case.refresh_from_db()
    assert case.balance == Decimal("990.00")


def test_promise_in_the_past_or_above_balance_is_refused(agent):
    case = CaseFactory(assigned_agent=agent, original_amount=Decimal("100.00"))
    with pytest.raises(ValidationError) as exc:
        promise_record(actor=agent, case_id=case.pk, amount=Decimal("10"), due_date=timezone.localdate() - dt.timedelta(days=1))
    assert "due_date" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        promise_record(actor=agent, case_id=case.pk, amount=Decimal("100.01"), due_date=timezone.localdate())
    assert "amount" in exc.value.message_dict
    assert PromiseToPay.objects.count() == 0


def test_stale_version_is_refused(agent):
    case = CaseFactory(assigned_agent=agent)
    opened_version = case.version
    promise_record(actor=agent, case_id=case.pk, amount=Decimal("10"), due_date=timezone.localdate(), expected_version=opened_version)
    with pytest.raises(StaleVersionError):
        promise_record(actor=agent, case_id=case.pk, amount=Decimal("20"), due_date=timezone.localdate(), expected_version=opened_version)
    assert PromiseToPay.objects.count() == 1


def test_assign_only_to_active_agents_and_audited(supervisor, agent, teammate):
    case = CaseFactory(assigned_agent=agent)
    with pytest.raises(ValidationError):
        case_assign(actor=supervisor, case_id=case.pk, agent=supervisor)
    case_assign(actor=supervisor, case_id=case.pk, agent=teammate)
    entry = AuditLog.objects.get(action="case.assigned")
    assert entry.before == {"assigned_agent_id": agent.pk} and entry.after == {"assigned_agent_id": teammate.pk}
    case.refresh_from_db()
    assert case.version == 2


def test_status_transitions_are_guarded(agent):
    case = CaseFactory(assigned_agent=agent)
    with pytest.raises(ValidationError):
        case_set_status(actor=agent, case_id=case.pk, status=CaseStatus.PAID)  # balance is not zero
    case_set_status(actor=agent, case_id=case.pk, status=CaseStatus.CLOSED)
    with pytest.raises(ValidationError):
        case_set_status(actor=agent, case_id=case.pk, status=CaseStatus.ACTIVE)  # closed is final


def test_contact_attempt_log_updates_case_and_refuses_long_notes(agent, settings):
    case = CaseFactory(assigned_agent=agent, status=CaseStatus.NEW)
    attempt = contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome="right_party", notes="ok")
    case.refresh_from_db()
    assert attempt.agent == agent and attempt.objective == case.objective
    assert case.status == CaseStatus.ACTIVE and case.last_outcome == "right_party"
    with pytest.raises(ValidationError) as exc:
        contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome="no_answer", notes="x" * (settings.CRM_NOTES_MAX_LENGTH + 1))
    assert "notes" in exc.value.message_dict
    assert case.attempts.count() == 1


def test_debtor_create_validates_document_and_audits(agent):
    with pytest.raises(ValidationError) as exc:
        debtor_create(actor=agent, name="Juan", document_type="dni", document_number="12345678A")  # wrong letter
    assert "document_number" in exc.value.message_dict
    debtor = debtor_create(
        actor=agent, name="Juan", document_type="dni", document_number="12345678-z",
        contact_points=[{"kind": "phone", "value": "612 34 56 78"}, {"kind": "email", "value": "Juan@Example.com"}],
    )
    assert debtor.document_number == "12345678Z"
    assert sorted(debtor.contact_points.values_list("value", flat=True)) == ["+34612345678", "juan@example.com"]
    assert AuditLog.objects.filter(action="contact_point.added").count() == 2
    debtor_set_flags(actor=agent, debtor_id=debtor.pk, cease_communication=True)
    entry = AuditLog.objects.get(action="debtor.flags_changed")
    assert entry.after == {"cease_communication": True}


def test_audit_log_is_append_only(agent):
    case = CaseFactory(assigned_agent=agent)
    with transaction.atomic():
        case_assign(actor=agent, case_id=case.pk, agent=None)
    entry = AuditLog.objects.first()
    entry.action = "tampered"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        AuditLog.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditLog.objects.update(action="x")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_audit_log_trigger_refuses_raw_sql_on_postgresql(agent):
    case = CaseFactory(assigned_agent=agent)
    case_assign(actor=agent, case_id=case.pk, agent=None)
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditlog SET action = 'x'")
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditlog")
    assert AuditLog.objects.count() >= 1


# Serialized rollback keeps the seed data for the transactional tests that run after this one.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_audit_record_outside_transaction_is_a_bug(agent):
    from collections_crm.audit.services import audit_record

    case = CaseFactory()
    with pytest.raises(RuntimeError):
        audit_record(actor=agent, action="x", obj=case)


def test_database_refuses_paid_case_with_balance():
    case = CaseFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(status=CaseStatus.PAID)
