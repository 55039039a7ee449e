"""The portal's pages answer in a fixed number of queries, whatever the case's history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from cases.services import payment_post
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db

# Case page: session, link with its case/debtor/creditor, "other cases?", payments, pending
# promise, live plan (+ its instalments when there is one), pending checkouts, open barriers,
# session save. The portal settings come from the cache. Under test the session save also counts
# its savepoint and release (production runs it in autocommit).
BUDGET = 10 + 2


@pytest.mark.parametrize("history", [1, 30])
def test_case_page_queries_do_not_grow_with_history(visit, portal_case, history, django_assert_max_num_queries):
    for n in range(history):
        PaymentFactory(case=portal_case, amount=Decimal("1.00"), received_on=timezone.localdate() - dt.timedelta(days=n))
    with django_assert_max_num_queries(BUDGET):
        response = visit.get(f"/p/case/{portal_case.pk}/")
    assert response.status_code == 200


def test_pay_and_plan_pages_within_budget(visit, portal_case, django_assert_max_num_queries):
    payment_post(actor=None, case_id=portal_case.pk, amount=Decimal("10"), received_on=timezone.localdate())
    for path in ("pay/", "plan/", "promise/", "documents/", "dispute/", "preferences/"):
        with django_assert_max_num_queries(BUDGET + 1):  # the plan page also reads the guardrails
            assert visit.get(f"/p/case/{portal_case.pk}/{path}").status_code == 200
