"""Roles, deny-by-default access, login security and the home page of each role."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from collections_crm.accounts.models import Role
from tests.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback


def test_every_view_states_who_may_use_it():
    """Deny by default: each view either names its roles or is explicitly public."""
    undeclared = []
    for route, view in _walk(get_resolver().url_patterns):
        if route.startswith("django-admin/"):
            continue  # Django's admin checks is_staff itself
        public = getattr(view, "login_required", True) is False
        roles = getattr(view, "crm_roles", None) or getattr(getattr(view, "cls", None), "allowed_roles", None)
        auth_views = ("accounts/",)  # Django's auth views: login is public, the rest need a login
        if not (public or roles or route.startswith(auth_views)):
            undeclared.append(route)
    assert undeclared == []


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


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


def test_agent_cannot_open_django_admin(client, agent):
    client.force_login(agent)
    response = client.get("/django-admin/")
    assert response.status_code == 302  # to the admin login: agents are not staff


def test_navigation_only_shows_allowed_entries(client, agent, admin_user):
    from collections_crm.core.navigation import NAV_ITEMS

    client.force_login(agent)
    items = client.get(reverse("home")).context["nav_items"]
    allowed = {name for name, _l, _i, roles in NAV_ITEMS if Role.AGENT in roles}
    assert {i["url"] for i in items} == {reverse(n) for n in allowed}


def test_login_locks_out_after_repeated_failures(client, settings):
    from django.core.cache import cache

    cache.clear()
    UserFactory(username="victim")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "victim", "password": "wrong-password-123"})
    response = client.post(reverse("login"), {"username": "victim", "password": "correct-horse-battery-9"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_successful_login_and_logout(client, agent, password):
    response = client.post(reverse("login"), {"username": agent.username, "password": password})
    assert response.status_code == 302 and response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_password_rules(agent):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ["short1!", "password1234", "123456789012"]:
        with pytest.raises(ValidationError):
            validate_password(weak, agent)
    validate_password("una-frase-larga-segura", agent)


def test_sessions_expire_after_inactivity(settings):
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_COOKIE_AGE <= 60 * 60


def test_healthz_is_public(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_login_opens_in_the_users_language(client, password):
    UserFactory(username="emma", language="en")
    response = client.post(reverse("login"), {"username": "emma", "password": password})
    assert response.cookies["django_language"].value == "en"
    assert "Open cases" in client.get(reverse("home")).content.decode()


def test_django_admin_shows_domain_data_read_only(client, case):
    from collections_crm.accounts.models import User

    root = User.objects.create_superuser(username="root", password="x-very-long-password", role=Role.ADMIN)
    client.force_login(root)
    assert client.get("/django-admin/cases/case/").status_code == 200
    assert client.get(f"/django-admin/cases/case/{case.pk}/change/").status_code == 200  # view only
    response = client.post(f"/django-admin/cases/case/{case.pk}/change/", {"balance": "1.00"})
    assert response.status_code == 403
    assert client.get("/django-admin/debtors/debtor/add/").status_code == 403
    assert client.post(f"/django-admin/accounts/user/{root.pk}/delete/", {"post": "yes"}).status_code == 403
    case.refresh_from_db()
    assert case.balance != 1
