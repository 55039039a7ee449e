"""Each role logs in with a real browser and sees its home page; screenshots go to artifacts/."""

from __future__ import annotations

import pytest

from tests.factories import CaseFactory

# Serialized rollback: the flush after each test then leaves no post-migrate rows behind that
# would collide with the seed data other transactional tests reload.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.mark.parametrize(
    "persona,language,heading",
    [("agent", "es", "Mi trabajo de hoy"), ("supervisor", "en", "My teams' portfolio"), ("admin_user", "es", "Administración")],
)
def test_each_role_logs_in_and_sees_home(request, page, browser_login, screenshot, live_server, agent, persona, language, heading):
    CaseFactory(assigned_agent=agent)
    user = request.getfixturevalue(persona)
    browser_login(user, language=language)
    assert page.get_by_test_id("home-title").inner_text().strip() == heading
    assert page.get_by_test_id("open-count").inner_text().strip() == "1"
    screenshot(f"home-{persona}-{language}")
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")


def test_wrong_password_shows_an_error(page, live_server, agent):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", agent.username)
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator(".alert-danger, .invalid-feedback, .alert-block").count() >= 1
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
