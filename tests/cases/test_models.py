"""Case and payment plan constraints held by the database, and the aging buckets."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from cases.choices import CaseStatus
from cases.models import Case
from tests.factories import CaseFactory


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field,value",
    [("original_amount", Decimal("0")), ("balance", Decimal("-1")), ("fees", Decimal("-0.01")), ("status", "bogus")],
)
def test_case_constraints_refuse_invalid_values(field, value):
    case = CaseFactory()
    setattr(case, field, value)
    with pytest.raises(IntegrityError), transaction.atomic():
        case.save()


@pytest.mark.django_db
def test_reference_is_unique_per_creditor_only():
    first = CaseFactory(reference="A-1")
    CaseFactory(reference="A-1")  # another creditor: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseFactory(reference="A-1", creditor=first.creditor)


@pytest.mark.django_db
def test_one_live_payment_plan_per_case():
    import datetime as dt

    from django.utils import timezone

    from cases.models import PaymentPlan

    case = CaseFactory()
    fields = dict(case=case, total_amount=Decimal("100"), instalment_count=2, first_due_date=dt.date(2026, 12, 1), created_at=timezone.now())
    PaymentPlan.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentPlan.objects.create(**fields)
    PaymentPlan.objects.create(**{**fields, "status": "cancelled"})


def test_aging_buckets_edges():
    from cases.choices import aging_bucket

    assert [aging_bucket(d) for d in (0, 1, 30, 31, 60, 61, 90, 91, 180, 181)] == [
        "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "91-180", "91-180", "180+"]


@pytest.mark.django_db
def test_database_refuses_paid_case_with_balance():
    case = CaseFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(status=CaseStatus.PAID)
