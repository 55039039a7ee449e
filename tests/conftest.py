"""Personas shared by every test (STYLE.md): an agent, another agent of the same team, an agent
of another team, a supervisor of the first team, an admin."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection

from collections_crm.accounts.models import Role
from contacts.models import Technique

from .factories import PASSWORD, CaseFactory, TeamFactory, UserFactory
from .workers import CeleryWorker, CeleryWorkers, celery_workers_for_test


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


_MIGRATED_DATA: dict[str, str] = {}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Keep a copy of the freshly migrated database (catalogues, templates, policies shipped by
    data migrations) to restore before each transactional test."""
    with django_db_blocker.unblock():
        _MIGRATED_DATA["default"] = connection.creation.serialize_db_to_string()


@pytest.fixture(autouse=True)
def _restore_migrated_data(request):
    """Transactional tests (live server, real worker) end with a flush. Django's serialized
    rollback would restore the migrated data, but only on the connection object that took the
    copy, and a test that ran Playwright's event loop is handed a new one. So restore it here
    whenever the flushed database lacks it."""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")):
        return
    request.getfixturevalue("transactional_db")
    if _MIGRATED_DATA and not (ContentType.objects.exists() and Technique.objects.exists()):
        # Post-migrate may have re-created content types with other ids: start from empty tables.
        call_command("flush", interactive=False, inhibit_post_migrate=True, verbosity=0)
        connection.creation.deserialize_db_from_string(_MIGRATED_DATA["default"])
        # Restored rows keep their ids; move the sequences past them (the flush reset them).
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), django_apps.get_models()):
                cursor.execute(sql)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached figures (home page summary, login attempts) never leak from one test to the next."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_strategy():
    """The follow-up engine caches rules and packs per process; each test starts from its DB."""
    from contacts.engine import strategy_invalidate

    strategy_invalidate()
    yield
    strategy_invalidate()


def pytest_collection_modifyitems(items):
    """Every transactional test restores the migrated data instead of starting from an empty
    flushed database. Django only skips re-creating content types after a flush (which would
    clash with the restored ones) when transactional tests use serialized rollback, so it is
    applied to all of them here."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(_skip_without_chromium)
        marker = item.get_closest_marker("django_db")
        names = set(getattr(item, "fixturenames", ()))
        if (marker and marker.kwargs.get("transaction")) or {"live_server", "transactional_db"} & names:
            kwargs = dict(marker.kwargs) if marker else {}
            kwargs.update(transaction=True, serialized_rollback=True)
            item.add_marker(pytest.mark.django_db(**kwargs), append=False)


# --- Celery: real workers on the test Redis (tests/workers.py) -----------------------------------


@pytest.fixture
def celery_workers(tmp_path) -> Iterator[CeleryWorkers]:
    """Start real workers on the test broker: ``celery_workers.start(beat=True, env={...})``, or
    ``celery_workers.new(...)`` to start it later. Options: tests.workers.WorkerOptions. This
    process publishes to the test broker meanwhile; every worker is stopped at the end."""
    with celery_workers_for_test(tmp_path) as workers:
        yield workers


@pytest.fixture
def celery_worker_options() -> dict:
    """The options of ``celery_worker`` (tests.workers.WorkerOptions); override it in a module."""
    return {}


@pytest.fixture
def celery_worker(celery_workers, celery_worker_options) -> CeleryWorker:
    """One running worker, configured by ``celery_worker_options``."""
    return celery_workers.start(**celery_worker_options)


# --- Browser: headless Debian chromium driven by Playwright against the live server ------------


CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# Playwright's sync API runs an event loop in the test thread; Django must allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


# Browser tests are skipped where chromium is missing, except when the run requires real services
# (CI): there the browser fixture fails loudly instead.
_skip_without_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CRM_REQUIRE_SERVICES"),
    reason=f"{CHROMIUM} is not installed (apt-get install chromium)",
)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab. Every page it loads must keep to the Content-Security-Policy: a
    violation (an inline script, handler or style the policy refused) fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="es-ES")
    page = context.new_page()
    page.set_default_timeout(10_000)
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield page
    context.close()
    assert not violations, f"Content-Security-Policy violations: {violations}"


@pytest.fixture
def screenshot(page):
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def browser_login(page, live_server, password):
    def login(user, language: str = "es"):
        page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return page

    return login
