"""The UI shell: each role's home page (its figures follow visibility) and the navigation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from collections_crm.accounts.models import Role
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("persona", ["agent", "supervisor", "admin_user"])
@pytest.mark.parametrize("language,title", [("es", "Casos abiertos"), ("en", "Open cases")])
def test_each_role_sees_its_home_page_in_both_languages(client, request, persona, language, title):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    response = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    assert title in response.content.decode()


def test_home_figures_follow_visibility(client, agent, teammate, outsider, supervisor, admin_user):
    CaseFactory(assigned_agent=agent)
    CaseFactory(assigned_agent=teammate)
    CaseFactory(assigned_agent=outsider)
    expected = {agent: 1, teammate: 1, outsider: 1, supervisor: 2, admin_user: 3}
    for user, count in expected.items():
        client.force_login(user)
        response = client.get(reverse("home"))
        assert response.context["summary"]["open_count"] == count, user.username


def test_home_money_is_never_added_across_currencies(client, agent):
    from decimal import Decimal

    from cases.services import payment_post

    CaseFactory(assigned_agent=agent, currency="EUR", original_amount=Decimal("100"), balance=Decimal("100"))
    CaseFactory(assigned_agent=agent, currency="EUR", original_amount=Decimal("50"), balance=Decimal("50"))
    usd = CaseFactory(assigned_agent=agent, currency="USD", original_amount=Decimal("300"), balance=Decimal("300"))
    payment_post(actor=agent, case_id=usd.pk, amount=Decimal("20"), received_on=usd.placed_at.today(), method="card")
    client.force_login(agent)
    response = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en")
    summary = response.context["summary"]
    assert summary["outstanding"] == [{"currency": "USD", "total": Decimal("280.00")}, {"currency": "EUR", "total": Decimal("150.00")}]
    assert summary["collected_month"] == [{"currency": "USD", "total": Decimal("20.00")}]
    page = response.content.decode()
    assert "280.00 $" in page and "150.00 €" in page


def test_navigation_only_shows_allowed_entries(client, agent, admin_user):
    from collections_crm.core.navigation import NAV_ITEMS

    client.force_login(agent)
    items = client.get(reverse("home")).context["nav_items"]
    allowed = {name for name, _l, _i, roles in NAV_ITEMS if Role.AGENT in roles}
    assert {i["url"] for i in items} == {reverse(n) for n in allowed}
