"""Roles, deny-by-default access (collections_crm.accounts.access) and login security."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.factories import UserFactory

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


def test_agent_cannot_open_django_admin(client, agent):
    client.force_login(agent)
    response = client.get("/django-admin/")
    assert response.status_code == 302  # to the admin login: agents are not staff


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


def test_login_opens_in_the_users_language(client, password):
    UserFactory(username="emma", language="en")
    response = client.post(reverse("login"), {"username": "emma", "password": password})
    assert response.cookies["django_language"].value == "en"
    assert "Open cases" in client.get(reverse("home")).content.decode()
