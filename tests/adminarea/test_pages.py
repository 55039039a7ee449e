"""Every admin-area page: admins get it, everyone else is refused (403, or login for anonymous)."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, reverse

from collections_crm.adminarea import urls as admin_urls
from contacts.models import Cadence, ExcuseCategory, JurisdictionPack, MessageTemplate, Technique

from ..factories import CaseFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _all_urls() -> list[str]:
    template = MessageTemplate.objects.order_by("pk").first()
    ids = {
        "template_id": template.pk, "number": 1, "cadence_id": Cadence.objects.first().pk,
        "pack_id": JurisdictionPack.objects.first().pk, "technique_id": Technique.objects.first().pk,
        "excuse_id": ExcuseCategory.objects.first().pk, "playbook_id": 1,
        "user_id": UserFactory(role="agent").pk, "team_id": TeamFactory().pk, "creditor_id": CaseFactory().creditor_id,
        "debtor_id": CaseFactory().debtor_id,
    }
    urls = []
    for pattern in admin_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {k: ids[k] for k in pattern.pattern.converters}
        urls.append(reverse(f"adminarea:{pattern.name}", kwargs=kwargs))
    return urls


@pytest.mark.parametrize("persona", ["agent", "supervisor"])
def test_non_admins_are_refused_on_every_admin_page(request, client, persona):
    client.force_login(request.getfixturevalue(persona))
    for url in _all_urls():
        for method in (client.get, client.post):
            assert method(url).status_code == 403, url


def test_anonymous_users_are_sent_to_login(client):
    for url in _all_urls():
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_every_views_declares_admin_role_only():
    for pattern in admin_urls.urlpatterns:
        assert pattern.callback.crm_roles == ("admin",), pattern.name


def test_admin_sees_every_page(client, admin_user):
    CaseFactory()
    client.force_login(admin_user)
    for url in _all_urls():
        if url.endswith(("/rollback/", "/toggle/", "/preview/", "/import/")):
            continue
        assert client.get(url, follow=True).status_code == 200, url


def test_admin_nav_shows_admin_area_and_agents_do_not_see_it(client, admin_user, agent):
    client.force_login(admin_user)
    assert reverse("adminarea:templates") in client.get(reverse("home")).content.decode()
    client.force_login(agent)
    assert reverse("adminarea:templates") not in client.get(reverse("home")).content.decode()
