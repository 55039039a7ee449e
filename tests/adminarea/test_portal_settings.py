"""The self-service portal's policy in the admin area: admins only, validated beside each field in
the user's language, saved with one audit row of what changed, nothing written on bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from collections_crm.adminarea import services
from collections_crm.audit.models import AuditLog
from collections_crm.selfservice.models import PortalSettings

pytestmark = pytest.mark.django_db
URL = reverse("adminarea:portal_settings")


def _data(**changes) -> dict:
    row = PortalSettings.objects.get(pk=1)
    values = {f: getattr(row, f) for f in services.PORTAL_SETTINGS_FIELDS}
    values = {k: ("on" if v is True else "" if v is False else str(v)) for k, v in values.items()}
    return {k: v for k, v in (values | changes).items() if v != ""}


def test_only_admins_open_the_page_and_it_is_in_the_admin_navigation(client, admin_user, supervisor, agent):
    for user in (agent, supervisor):
        client.force_login(user)
        assert client.get(URL).status_code == 403
        assert client.post(URL, _data(link_valid_days="3")).status_code == 403
    assert PortalSettings.objects.get(pk=1).link_valid_days == 30
    client.force_login(admin_user)
    html = client.get(reverse("adminarea:templates")).content.decode()
    assert URL in html and 'data-testid="subnav-portal"' in html
    page = client.get(URL, HTTP_ACCEPT_LANGUAGE="es")
    assert page.status_code == 200
    assert "Portal de autoservicio" in page.content.decode()


def test_bad_values_are_refused_beside_their_fields_and_nothing_is_written(client, admin_user):
    client.force_login(admin_user)
    before = PortalSettings.objects.get(pk=1)
    response = client.post(URL, _data(link_valid_days="0", session_minutes="500", min_payment="0", upload_max_mb="99"),
                           HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"link_valid_days", "session_minutes", "min_payment", "upload_max_mb"}
    assert "mayor o igual a 1" in errors["link_valid_days"][0]
    after = PortalSettings.objects.get(pk=1)
    assert (after.link_valid_days, after.session_minutes, after.updated_at) == (before.link_valid_days, before.session_minutes, before.updated_at)
    assert not AuditLog.objects.filter(action__startswith="portal_settings.").exists()


def test_saving_audits_what_changed_and_who(client, admin_user):
    client.force_login(admin_user)
    response = client.post(URL, _data(link_valid_days="14", min_payment="5.00", allow_plans="", welcome_en="Hello there"))
    assert response.status_code == 302
    row = PortalSettings.objects.get(pk=1)
    assert (row.link_valid_days, row.min_payment, row.allow_plans, row.welcome_en, row.updated_by) == (
        14, Decimal("5.00"), False, "Hello there", admin_user)
    audit = AuditLog.objects.get(action="portal_settings.updated")
    assert audit.actor == admin_user
    assert set(audit.after) >= {"link_valid_days", "min_payment", "allow_plans", "welcome_en"}
    assert audit.before["link_valid_days"] == 30 and audit.after["link_valid_days"] == 14
    # Saving the same values again changes nothing and writes no audit row.
    client.post(URL, _data())
    assert AuditLog.objects.filter(action="portal_settings.updated").count() == 1
