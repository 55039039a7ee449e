"""List pages of the admin area run a fixed number of queries, whatever the amount of data."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts.models import MessageTemplate
from contacts.services import template_save_version

pytestmark = pytest.mark.django_db


# Every request ends with the idle-timeout session save (SESSION_SAVE_EVERY_REQUEST): savepoint,
# update, release = 3 queries, counted as "session save" below.


def _login(client, user):
    client.force_login(user)


def _more_versions(admin_user, n: int) -> None:
    for template in MessageTemplate.objects.filter(channel="letter")[:3]:
        for i in range(n):
            template_save_version(actor=admin_user, template_id=template.pk, subject="s", body=f"Texto {i}")


def test_template_list_budget(client, admin_user, django_assert_max_num_queries):
    _login(client, admin_user)
    _more_versions(admin_user, 3)
    # session, user, templates with current version, author and version count, session save (3)
    with django_assert_max_num_queries(6):
        assert client.get(reverse("adminarea:templates")).status_code == 200


def test_template_history_budget_does_not_grow_with_versions(client, admin_user, django_assert_max_num_queries):
    _login(client, admin_user)
    _more_versions(admin_user, 6)
    template = MessageTemplate.objects.filter(channel="letter").first()
    # session, user, template, versions with authors, audit rows with actors, session save (3)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("adminarea:template_history", args=[template.pk])).status_code == 200


def test_policies_and_catalogues_budget(client, admin_user, django_assert_max_num_queries):
    _login(client, admin_user)
    # session, user, guardrails, follow-up settings with template, rules, cadences, their steps, packs,
    # session save (3)
    with django_assert_max_num_queries(11):
        assert client.get(reverse("adminarea:policies")).status_code == 200
    # session, user, techniques, excuses, playbooks with excuse categories, session save (3)
    with django_assert_max_num_queries(8):
        assert client.get(reverse("adminarea:catalogues")).status_code == 200
