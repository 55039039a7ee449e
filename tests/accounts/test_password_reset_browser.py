"""The forgotten-password journey in a real browser (headless chromium against the live server):
the login page's link, the request, the e-mailed link, a new password, and logging in with it."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_user_resets_a_forgotten_password(page, live_server, screenshot):
    UserFactory(username="lucia", first_name="Lucía", email="lucia@example.com", language="es")
    page.context.add_cookies([{"name": "django_language", "value": "es", "url": live_server.url}])
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("[data-testid=forgot-password]")
    page.fill("input[name=email]", "lucia@example.com")
    screenshot("password_reset_request")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=reset-sent]")
    screenshot("password_reset_sent")

    (message,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", message.body).group(1)
    page.goto(f"{live_server.url}{link}")
    page.fill("input[name=new_password1]", "una-frase-nueva-y-larga")
    page.fill("input[name=new_password2]", "una-frase-nueva-y-larga")
    screenshot("password_reset_new_password")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=reset-complete]")
    screenshot("password_reset_complete")

    page.click("a.btn-primary")
    page.fill("input[name=username]", "lucia")
    page.fill("input[name=password]", "una-frase-nueva-y-larga")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
