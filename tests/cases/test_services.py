"""Case services: every change writes an audit row; bad input writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
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
