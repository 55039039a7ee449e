"""The API's selectors take the caller as keywords (the user and the token's creditor), never
the request."""

from __future__ import annotations

import pytest

from collections_crm.api import selectors
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def test_cases_are_the_users_narrowed_to_the_tokens_creditor(agent, outsider, cases, creditor_a):
    def refs(qs):
        return {c.reference for c in qs}

    assert refs(selectors.cases_for(user=agent, creditor_id=None)) == {"A-1", "B-1"}
    assert refs(selectors.cases_for(user=agent, creditor_id=creditor_a.pk)) == {"A-1"}
    assert refs(selectors.cases_for(user=outsider, creditor_id=creditor_a.pk)) == {"A-2"}


def test_records_follow_their_cases(agent, cases, creditor_a, creditor_b):
    PaymentFactory(case=cases["a"])
    PaymentFactory(case=cases["b"])
    PaymentFactory(case=cases["a2"])
    assert {p.case.reference for p in selectors.payments_for(user=agent, creditor_id=None)} == {"A-1", "B-1"}
    assert {p.case.reference for p in selectors.payments_for(user=agent, creditor_id=creditor_b.pk)} == {"B-1"}
    assert set(selectors.creditors_for(creditor_id=creditor_b.pk)) == {creditor_b}
    assert set(selectors.creditors_for(creditor_id=None)) >= {creditor_a, creditor_b}


def test_selectors_take_keywords_only(agent):
    with pytest.raises(TypeError):
        selectors.cases_for(agent, None)  # type: ignore[misc]
