"""Login lockouts: a username is locked for the address that guessed, not for its owner; one
address spraying many usernames is locked as a whole; the client address cannot be forged."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory
from django.urls import reverse

from collections_crm.accounts.lockout import client_ip
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.7"
OFFICE = "198.51.100.20"
WRONG = "wrong-password-123"


def _login(client, username: str, password: str, address: str, **headers):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, **headers)


def _logged_in(response) -> bool:
    return response.status_code == 302 and response.url == reverse("home")


def test_guessing_locks_the_guessers_address_not_the_owner(client, settings):
    victim = UserFactory(username="victim")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, victim.username, WRONG, ATTACKER)

    locked = _login(client, victim.username, PASSWORD, ATTACKER)
    assert locked.status_code == 429
    assert "registration/locked_out.html" in [t.name for t in locked.templates]
    assert reverse("password_reset") in locked.content.decode()
    assert "_auth_user_id" not in client.session

    # The owner, from their own address, is not affected.
    assert _logged_in(_login(client, victim.username, PASSWORD, OFFICE))


def test_one_address_spraying_many_usernames_is_locked_for_all(client, settings):
    settings.AXES_IP_FAILURE_LIMIT = 8
    colleague = UserFactory(username="colleague")
    for n in range(settings.AXES_IP_FAILURE_LIMIT - 1):
        response = _login(client, f"sprayed{n}", "Summer2026!", ATTACKER)
        assert response.status_code == 200  # each username failed once only: no lock yet
    assert _login(client, "sprayed-last", "Summer2026!", ATTACKER).status_code == 429

    # Now every username is refused from that address, even with the right password...
    assert _login(client, colleague.username, PASSWORD, ATTACKER).status_code == 429
    # ...and still accepted from any other address.
    assert _logged_in(_login(client, colleague.username, PASSWORD, OFFICE))


def test_an_office_behind_one_address_survives_its_typos(client, settings):
    """Below the per-address limit, several people mistyping from one NAT address (each below the
    per-username limit) all still log in."""
    people = [UserFactory(username=f"clerk{n}") for n in range(5)]
    for person in people:
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert _login(client, person.username, WRONG, OFFICE).status_code == 200
    for person in people:
        assert _logged_in(_login(client, person.username, PASSWORD, OFFICE))
        client.logout()


def test_a_successful_login_forgets_only_its_own_failures(client, settings):
    """An attacker holding one valid account cannot wipe the address's count by logging in."""
    settings.AXES_IP_FAILURE_LIMIT = 6
    own = UserFactory(username="insider")
    for n in range(settings.AXES_IP_FAILURE_LIMIT - 1):
        _login(client, f"target{n}", WRONG, ATTACKER)
    assert _logged_in(_login(client, own.username, PASSWORD, ATTACKER))
    client.logout()
    assert _login(client, "target-next", WRONG, ATTACKER).status_code == 429


def test_a_forged_forwarded_for_header_does_not_escape_the_lock(client, settings):
    victim = UserFactory(username="victim")
    for n in range(settings.AXES_FAILURE_LIMIT + 2):
        _login(client, victim.username, WRONG, ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert _login(client, victim.username, PASSWORD, ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


@pytest.mark.parametrize(
    "proxies,forwarded,expected",
    [
        (0, "192.0.2.1", "10.0.0.2"),  # no proxy: the header is the client's own words
        (1, "192.0.2.1", "192.0.2.1"),  # the proxy's entry
        (1, "6.6.6.6, 192.0.2.1", "192.0.2.1"),  # a forged entry to the left is skipped
        (2, "6.6.6.6, 192.0.2.1, 10.0.0.9", "192.0.2.1"),  # two proxies: the outer one saw the client
        (2, "192.0.2.1", "10.0.0.2"),  # shorter than the proxy chain: it bypassed a proxy
        (1, "not-an-address", "10.0.0.2"),
        (1, "", "10.0.0.2"),
        (1, " 2001:DB8::1 ", "2001:db8::1"),
    ],
)
def test_client_address_behind_trusted_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_lockouts_count_the_address_the_proxy_saw(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    victim = UserFactory(username="victim")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, victim.username, WRONG, "172.18.0.5", HTTP_X_FORWARDED_FOR=ATTACKER)
    assert _login(client, victim.username, PASSWORD, "172.18.0.5", HTTP_X_FORWARDED_FOR=ATTACKER).status_code == 429
    assert _logged_in(_login(client, victim.username, PASSWORD, "172.18.0.5", HTTP_X_FORWARDED_FOR=OFFICE))


def test_the_lockout_configuration_passes_axes_checks():
    from django.core import checks

    assert [m for m in checks.run_checks() if m.id and m.id.startswith("axes.")] == []
