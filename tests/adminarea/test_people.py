"""Admins manage users, teams and creditors in the admin area: validated, audited (never the
password), and refused when a change would strand cases or leave nobody in charge."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.models import Creditor
from collections_crm.accounts.models import Role, Team, User
from collections_crm.audit.models import AuditLog
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db

STRONG = "cobros-seguro-2026!"


def new_user_data(**extra):
    return {"username": "nuria", "first_name": "Nuria", "last_name": "Vidal", "email": "nuria@example.com",
            "role": "agent", "team": "", "language": "es", "password1": STRONG, "password2": STRONG, **extra}


def edit_data(user, **extra):
    return {"username": user.username, "first_name": user.first_name, "last_name": user.last_name, "email": user.email,
            "role": user.role, "team": user.team_id or "", "language": user.language, "is_active": "on" if user.is_active else "", **extra}


def test_admin_creates_an_agent_who_can_log_in_and_the_audit_has_no_password(client, admin_user, team):
    client.force_login(admin_user)
    response = client.post(reverse("adminarea:user_new"), new_user_data(team=team.pk))
    assert response.status_code == 302
    user = User.objects.get(username="nuria")
    assert (user.role, user.team, user.is_active) == ("agent", team, True)
    assert user.check_password(STRONG)
    row = AuditLog.objects.get(action="user.created", object_id=str(user.pk))
    assert row.actor == admin_user and "password" not in str(row.after) and STRONG not in str(row.after)
    client.logout()
    assert client.post(reverse("login"), {"username": "nuria", "password": STRONG}).status_code == 302


@pytest.mark.parametrize(("change", "field"), [
    ({"password1": "corta", "password2": "corta"}, "password1"),          # too short
    ({"password2": "otra-cosa-distinta-2026"}, "password2"),               # differ
    ({"username": "admin-dup"}, "username"),                               # taken (created below)
    ({"email": "no-es-un-correo"}, "email"),
    ({"role": "root"}, "role"),
])
def test_bad_new_user_gets_a_field_error_and_nothing_is_written(client, admin_user, change, field):
    User.objects.create(username="admin-dup", role=Role.AGENT)
    client.force_login(admin_user)
    users, audits = User.objects.count(), AuditLog.objects.count()
    response = client.post(reverse("adminarea:user_new"), new_user_data(**change))
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert User.objects.count() == users and AuditLog.objects.count() == audits


def test_an_agent_with_open_cases_cannot_be_deactivated_or_demoted(client, admin_user, agent):
    CaseFactory(assigned_agent=agent)
    client.force_login(admin_user)
    response = client.post(reverse("adminarea:user_edit", args=[agent.pk]), edit_data(agent, is_active=""))
    assert response.status_code == 200 and "1" in str(response.context["form"].errors["is_active"])
    response = client.post(reverse("adminarea:user_edit", args=[agent.pk]), edit_data(agent, role="supervisor"))
    assert response.context["form"].errors["role"]
    agent.refresh_from_db()
    assert agent.is_active and agent.role == "agent"
    assert not AuditLog.objects.filter(action="user.updated").exists()


def test_deactivating_an_agent_without_cases_is_audited_and_blocks_login(client, admin_user, agent, password):
    client.force_login(admin_user)
    response = client.post(reverse("adminarea:user_edit", args=[agent.pk]), edit_data(agent, is_active=""))
    assert response.status_code == 302
    row = AuditLog.objects.get(action="user.updated", object_id=str(agent.pk))
    assert row.before == {"is_active": True} and row.after == {"is_active": False}
    client.logout()
    assert client.post(reverse("login"), {"username": agent.username, "password": password}).status_code == 200


def test_a_supervisor_leading_a_team_keeps_the_role_and_the_last_admin_stays(client, admin_user, supervisor):
    client.force_login(admin_user)
    response = client.post(reverse("adminarea:user_edit", args=[supervisor.pk]), edit_data(supervisor, role="agent"))
    assert response.context["form"].errors["role"]
    response = client.post(reverse("adminarea:user_edit", args=[admin_user.pk]), edit_data(admin_user, role="supervisor"))
    assert response.context["form"].errors["role"]
    assert User.objects.get(pk=admin_user.pk).role == "admin"


def test_admin_sets_a_password_and_it_is_audited_without_the_value(client, admin_user, agent):
    client.force_login(admin_user)
    response = client.post(reverse("adminarea:user_edit", args=[agent.pk]), {"password1": STRONG, "password2": STRONG})
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.check_password(STRONG)
    row = AuditLog.objects.get(action="user.password_set", object_id=str(agent.pk))
    assert STRONG not in str(row.after)


def test_user_list_filters_and_counts_open_cases(client, admin_user, agent, teammate, supervisor):
    CaseFactory(assigned_agent=agent)
    CaseFactory(assigned_agent=agent)
    CaseFactory(assigned_agent=agent, status="paid", balance=0)
    client.force_login(admin_user)
    response = client.get(reverse("adminarea:users"), {"role": "agent", "sort": "open"})
    rows = list(response.context["page"])
    assert supervisor not in rows and rows[0] == agent and rows[0].open_cases == 2
    response = client.get(reverse("adminarea:users"), {"q": teammate.username})
    assert list(response.context["page"]) == [teammate]


def test_teams_and_creditors_are_created_with_audit(client, admin_user, supervisor):
    client.force_login(admin_user)
    response = client.post(reverse("adminarea:team_new"), {"name": "Equipo Este", "supervisor": supervisor.pk})
    assert response.status_code == 302
    team = Team.objects.get(name="Equipo Este")
    assert team.supervisor == supervisor and AuditLog.objects.filter(action="team.created", object_id=str(team.pk)).exists()
    response = client.post(reverse("adminarea:creditor_new"), {"code": "banco-sur", "name": "Banco Sur", "kind": "client",
                                                               "currency": "mxn", "active": "on"})
    assert response.status_code == 302
    creditor = Creditor.objects.get(code="banco-sur")
    assert creditor.currency == "MXN" and AuditLog.objects.filter(action="creditor.created", object_id=str(creditor.pk)).exists()
    response = client.post(reverse("adminarea:creditor_new"), {"code": "banco-sur", "name": "Otro", "kind": "client", "currency": "EURO"})
    errors = response.context["form"].errors
    assert errors.get("code") and errors.get("currency")


def test_people_pages_are_for_admins_only(client, supervisor, agent):
    for user in (supervisor, agent):
        client.force_login(user)
        for name in ("adminarea:users", "adminarea:user_new", "adminarea:teams", "adminarea:creditors", "adminarea:creditor_new"):
            assert client.get(reverse(name)).status_code == 403
