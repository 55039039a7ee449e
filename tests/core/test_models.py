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
