"""Self-service password reset: the same answer for every address, links that expire and work
once, limits per client address and per e-mail address, the password rules, an audit row and the
login lockouts lifted."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
import time_machine
from axes.models import AccessAttempt
from django.urls import reverse

from collections_crm.audit.models import AuditLog
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "otra-frase-larga-y-segura"
LINK = re.compile(r"https?://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)")


def _ask(client, email: str, address: str = "198.51.100.20", language: str = "en"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE=language)


def _link(message) -> str:
    return LINK.search(message.body).group(1)


def _set_password(client, link: str, password: str):
    form_url = client.get(link).url  # the token moves into the session; the form has no token in its URL
    return client.post(form_url, {"new_password1": password, "new_password2": password})


def test_the_reset_pages_are_public_and_linked_from_the_login_page(client):
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()
    for name in ["password_reset", "password_reset_done", "password_reset_complete"]:
        assert client.get(reverse(name)).status_code == 200, name
    bad = client.get(reverse("password_reset_confirm", kwargs={"uidb64": "MQ", "token": "nope"}))
    assert bad.status_code == 200 and 'data-testid="reset-link-invalid"' in bad.content.decode()


def test_the_answer_does_not_say_whether_the_address_has_an_account(client, mailoutbox):
    UserFactory(username="ana", email="ana@example.com")
    known = _ask(client, "ana@example.com")
    unknown = _ask(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 302
    assert known.url == unknown.url == reverse("password_reset_done")
    csrf = re.compile(rb'"X-CSRFToken": "[^"]+"')  # the only part that differs between two renders
    assert csrf.sub(b"", client.get(known.url).content) == csrf.sub(b"", client.get(unknown.url).content)
    assert [m.to for m in mailoutbox] == [["ana@example.com"]]


@pytest.mark.parametrize("language,subject,greeting", [
    ("es", "Elija una nueva contraseña de CobroCRM", "Hola Ana:"),
    ("en", "Choose a new CobroCRM password", "Hello Ana,"),
])
def test_the_email_is_written_in_the_users_language(client, mailoutbox, language, subject, greeting):
    UserFactory(username="ana", first_name="Ana", email="ana@example.com", language=language)
    _ask(client, "ana@example.com", language="en" if language == "es" else "es")  # the browser's language differs
    (message,) = mailoutbox
    assert message.subject == subject
    assert message.body.startswith(greeting)
    assert "60" in message.body and "ana" in message.body  # the link's lifetime in minutes, the username


def test_a_reset_sets_the_password_audits_it_and_lifts_the_lockouts(client, mailoutbox, settings):
    user = UserFactory(username="ana", email="ana@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):  # locked out from the office
        client.post(reverse("login"), {"username": "ana", "password": "wrong-password-1"}, REMOTE_ADDR="198.51.100.20")
    assert AccessAttempt.objects.filter(username="ana").exists()

    _ask(client, "ana@example.com")
    response = _set_password(client, _link(mailoutbox[0]), NEW_PASSWORD)
    assert response.status_code == 302 and response.url == reverse("password_reset_complete")

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    (entry,) = AuditLog.objects.filter(action="user.password_reset")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (user.pk, "accounts.user", str(user.pk))
    assert entry.after == {"via": "email_link"} and entry.before is None  # never the password
    assert not AccessAttempt.objects.filter(username="ana").exists()

    login = client.post(reverse("login"), {"username": "ana", "password": NEW_PASSWORD}, REMOTE_ADDR="198.51.100.20")
    assert login.status_code == 302 and login.url == reverse("home")


def test_a_link_works_once(client, mailoutbox):
    UserFactory(username="ana", email="ana@example.com")
    _ask(client, "ana@example.com")
    link = _link(mailoutbox[0])
    _set_password(client, link, NEW_PASSWORD)
    again = client.get(link)
    assert again.status_code == 200 and 'data-testid="reset-link-invalid"' in again.content.decode()


def test_a_link_expires(client, mailoutbox, settings):
    assert settings.PASSWORD_RESET_TIMEOUT == 3600
    user = UserFactory(username="ana", email="ana@example.com")
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False):
        _ask(client, "ana@example.com")
    link = _link(mailoutbox[0])
    with time_machine.travel(start + dt.timedelta(minutes=59), tick=False):
        assert client.get(link).status_code == 302  # still valid: on to the form
    with time_machine.travel(start + dt.timedelta(minutes=61), tick=False):
        response = client.get(link)
        assert 'data-testid="reset-link-invalid"' in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_the_new_password_follows_the_password_rules(client, mailoutbox):
    user = UserFactory(username="ana", email="ana@example.com")
    _ask(client, "ana@example.com")
    response = _set_password(client, _link(mailoutbox[0]), "123456789012")
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not AuditLog.objects.filter(action="user.password_reset").exists()


def test_requests_are_limited_per_client_address(client, mailoutbox, settings, caplog):
    for n in range(settings.PASSWORD_RESET_MAX_PER_ADDRESS + 1):
        UserFactory(username=f"u{n}", email=f"u{n}@example.com")
    with caplog.at_level(logging.WARNING, logger="collections_crm.accounts.password_reset"):
        answers = [_ask(client, f"u{n}@example.com", address="203.0.113.7")
                   for n in range(settings.PASSWORD_RESET_MAX_PER_ADDRESS + 1)]
    assert {(a.status_code, a.url) for a in answers} == {(302, reverse("password_reset_done"))}
    assert len(mailoutbox) == settings.PASSWORD_RESET_MAX_PER_ADDRESS
    (warning,) = caplog.records
    text = warning.getMessage()
    assert "address" in text and "203.0.113.7" not in text and "@" not in text

    # Another address is not affected.
    _ask(client, "u0@example.com", address="198.51.100.20")
    assert len(mailoutbox) == settings.PASSWORD_RESET_MAX_PER_ADDRESS + 1


def test_requests_are_limited_per_email_address_whatever_its_case(client, mailoutbox, settings, caplog):
    UserFactory(username="ana", email="ana@example.com")
    spellings = ["ana@example.com", "ANA@example.com", "Ana@Example.com"]
    with caplog.at_level(logging.WARNING, logger="collections_crm.accounts.password_reset"):
        for n in range(settings.PASSWORD_RESET_MAX_PER_EMAIL + 2):
            _ask(client, spellings[n % 3], address=f"192.0.2.{n}")
    assert len(mailoutbox) == settings.PASSWORD_RESET_MAX_PER_EMAIL
    texts = [r.getMessage() for r in caplog.records]
    assert len(texts) == 2 and all("email" in t and "ana" not in t.lower() and "192.0.2" not in t for t in texts)


def test_unknown_addresses_count_against_the_limits_too(client, mailoutbox, settings):
    """Otherwise the limit itself would tell which addresses have an account."""
    UserFactory(username="ana", email="ana@example.com")
    for _ in range(settings.PASSWORD_RESET_MAX_PER_ADDRESS):
        _ask(client, "nobody@example.com", address="203.0.113.7")
    _ask(client, "ana@example.com", address="203.0.113.7")
    assert mailoutbox == []


def test_a_cache_outage_does_not_stop_resets(client, mailoutbox, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    UserFactory(username="ana", email="ana@example.com")
    assert _ask(client, "ana@example.com").status_code == 302
    assert len(mailoutbox) == 1


def test_the_reset_pages_speak_spanish(client):
    page = client.get(reverse("password_reset"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Restablezca su contraseña" in page and "Enviar el enlace" in page
