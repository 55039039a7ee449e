from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

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


@pytest.mark.parametrize(
    "doc_type,number,ok",
    [("dni", "12345678Z", True), ("dni", "12345678A", False), ("nie", "X1234567L", True), ("nie", "X1234567A", False),
     ("cif", "B12345674", True), ("cif", "B12345675", False), ("passport", "AB123456", True), ("other", "!", False)],
)
def test_document_validation(doc_type, number, ok):
    from django.core.exceptions import ValidationError

    from debtors.validators import validate_document

    if ok:
        validate_document(doc_type, number)
    else:
        with pytest.raises(ValidationError):
            validate_document(doc_type, number)


def test_aging_buckets_edges():
    from cases.choices import aging_bucket

    assert [aging_bucket(d) for d in (0, 1, 30, 31, 60, 61, 90, 91, 180, 181)] == [
        "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "91-180", "91-180", "180+"]
