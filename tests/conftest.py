"""Personas shared by every test (STYLE.md): an agent, another agent of the same team, an agent
of another team, a supervisor of the first team, an admin."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collections_crm.accounts.models import Role

from .factories import PASSWORD, CaseFactory, TeamFactory, UserFactory


@pytest.fixture
def team(db):
    return TeamFactory(name="Norte")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Sur")


@pytest.fixture
def supervisor(team):
    user = UserFactory(username="sup", role=Role.SUPERVISOR)
    team.supervisor = user
    team.save()
    return user


@pytest.fixture
def agent(team):
    return UserFactory(username="agent1", role=Role.AGENT, team=team)


@pytest.fixture
def teammate(team):
    return UserFactory(username="agent2", role=Role.AGENT, team=team)


@pytest.fixture
def outsider(other_team):
    """An agent of another team."""
    return UserFactory(username="agent9", role=Role.AGENT, team=other_team)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="boss", role=Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def case(agent):
    return CaseFactory(assigned_agent=agent)


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def login(client):
    """Log a persona in on the Django test client: ``login(agent)``."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


def pytest_collection_modifyitems(items):
    """Every transactional test (live server, real worker) restores the migrated data — the
    catalogues, templates and policies that data migrations ship — instead of starting from an
    empty flushed database. Django only skips re-creating content types after a flush when every
    transactional test uses serialized rollback, so it is applied to all of them here."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        names = set(getattr(item, "fixturenames", ()))
        if (marker and marker.kwargs.get("transaction")) or {"live_server", "transactional_db"} & names:
            kwargs = dict(marker.kwargs) if marker else {}
            kwargs.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)


# --- Headless Debian chromium, one per test session (Playwright's sync API runs once per process) ---

CHROMIUM = "/usr/bin/chromium"


def _require_chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CRM_REQUIRE_SERVICES"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed")


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from django.db import connections
    from playwright.sync_api import sync_playwright

    serialized = {alias: getattr(connections[alias], "_test_serialized_contents", None) for alias in connections}
    with sync_playwright() as pw:
        # Playwright's sync API runs the rest of the session in a greenlet with its own context
        # variables, where Django hands out new connection wrappers: give them the serialized
        # seed data, or serialized_rollback tests that run afterwards would find it gone.
        for alias, contents in serialized.items():
            if contents is not None:
                connections[alias]._test_serialized_contents = contents
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()
