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


# --- Amounts in messages read as money in the reader's language (#19) --------------------------


@pytest.mark.parametrize(("language", "payment", "promise", "plan"), [
    ("es", "El pago (99\xa0999\xa0999,00 €) supera el saldo (48\xa0464,01 €).",
     "La promesa (50\xa0000,00 €) supera el saldo (48\xa0464,01 €).",
     "El plan (1\xa0048\xa0464,01 €) supera el saldo (48\xa0464,01 €)."),
    ("en", "The payment (99,999,999.00 €) is larger than the balance (48,464.01 €).",
     "The promise (50,000.00 €) is larger than the balance (48,464.01 €).",
     "The plan (1,048,464.01 €) is larger than the balance (48,464.01 €)."),
])
def test_amounts_in_messages_are_money_in_the_active_language(agent, language, payment, promise, plan):
    from django.utils import translation

    from cases.services import plan_create

    case = CaseFactory(assigned_agent=agent, original_amount=Decimal("48464.01"))
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with translation.override(language):
        with pytest.raises(ValidationError) as exc:
            payment_post(actor=agent, case_id=case.pk, amount=Decimal("99999999"), received_on=timezone.localdate())
        assert exc.value.message_dict["amount"] == [payment]
        with pytest.raises(ValidationError) as exc:
            promise_record(actor=agent, case_id=case.pk, amount=Decimal("50000"), due_date=tomorrow)
        assert exc.value.message_dict["amount"] == [promise]
        with pytest.raises(ValidationError) as exc:
            plan_create(actor=agent, case_id=case.pk, total_amount=Decimal("1048464.01"), frequency="monthly",
                        instalments=[(tomorrow, Decimal("1048464.01"))])
        assert exc.value.message_dict["total_amount"] == [plan]
        with pytest.raises(ValidationError) as exc:
            plan_create(actor=agent, case_id=case.pk, total_amount=Decimal("2000"), frequency="monthly",
                        instalments=[(tomorrow, Decimal("1000")), (tomorrow + dt.timedelta(days=30), Decimal("999.5"))])
        expected = {"es": ("1\xa0999,50", "2\xa0000,00"), "en": ("1,999.50", "2,000.00")}[language]
        assert all(figure in exc.value.message_dict["instalments"][0] for figure in expected)


def test_guardrail_reasons_and_talking_points_format_money_and_dates(agent):
    from django.utils import translation

    from cases.guardrails import Limits, plan_needs_approval
    from collections_crm.desk.preparation import talking_points

    limits = Limits(Decimal("1500"), 12, 12, Decimal("10"))
    promise = PromiseFactory.build(amount=Decimal("1234.5"), due_date=dt.date(2026, 1, 12))
    for language, money, day in (("es", "1\xa0500,00 €", "12/01/2026"), ("en", "1,500.00 €", "01/12/2026")):
        with translation.override(language):
            reasons = plan_needs_approval(limits=limits, balance=Decimal("5000"), total_amount=Decimal("5000"),
                                          discount_amount=Decimal("0"), instalment_count=4, frequency="monthly",
                                          first_due_date=dt.date(2026, 1, 12), today=dt.date(2026, 1, 1))
            assert any(money in r for r in reasons), reasons
            points = talking_points(objective="remind", broken_promises=[promise], pending_promise=None, open_barriers=[],
                                    last_statement=None, plan=None, today=dt.date(2026, 2, 1))
            assert any(day in p for p in points), points
