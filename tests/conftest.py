"""Personas shared by every test (STYLE.md): an agent, another agent of the same team, an agent
of another team, a supervisor of the first team, an admin."""

from __future__ import annotations

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


@pytest.fixture(autouse=True)
def _fresh_strategy():
    """The follow-up engine caches rules and packs per process; each test starts from its DB."""
    from contacts.services_followup import strategy_invalidate

    strategy_invalidate()
    yield
    strategy_invalidate()


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
