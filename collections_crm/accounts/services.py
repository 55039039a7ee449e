"""Users and teams as admins manage them: every change validated, audited in the same
transaction, and refused when it would leave the CRM in a bad state (an agent deactivated with
open cases, a team without its supervisor, no active admin left). Passwords never reach the
audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_crm.audit.services import audit_record, audited_save, snapshot

from . import hooks
from .models import Role, Team, User

USER_FIELDS = ["username", "first_name", "last_name", "email", "role", "team_id", "language", "is_active"]
TEAM_FIELDS = ["name", "supervisor_id", "agents_see_team_cases"]


def _prepare_user(*, actor: User, user: User, before: dict[str, Any]) -> None:
    """Normalise ``user`` (only agents have a team) and check the rules a change must keep;
    ``before`` is empty for a new user."""
    errors: dict[str, list[str]] = {}
    if user.role != Role.AGENT:
        user.team = None  # only agents belong to teams; supervisors lead them
    was_agent = before.get("role") == Role.AGENT and before.get("is_active")
    if was_agent and (user.role != Role.AGENT or not user.is_active):
        open_cases = hooks.open_case_count(user=user)
        if open_cases:
            field = "is_active" if not user.is_active else "role"
            errors.setdefault(field, []).append(
                _("%(name)s still has %(n)d open cases: reassign them first (Portfolio → cases of this agent).")
                % {"name": user.display_name(), "n": open_cases})
    if before.get("role") == Role.SUPERVISOR and (user.role != Role.SUPERVISOR or not user.is_active):
        teams = ", ".join(Team.objects.filter(supervisor=user).values_list("name", flat=True))
        if teams:
            errors.setdefault("role" if user.role != Role.SUPERVISOR else "is_active", []).append(
                _("%(name)s leads %(teams)s: give the team another supervisor first.") % {"name": user.display_name(), "teams": teams})
    if user.pk == actor.pk and (not user.is_active or user.role != Role.ADMIN) and not actor.is_superuser:
        errors.setdefault("role", []).append(_("You cannot remove your own administrator access."))
    if before.get("role") == Role.ADMIN and before.get("is_active") and (user.role != Role.ADMIN or not user.is_active):
        if not User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=user.pk).exists():
            errors.setdefault("role", []).append(_("At least one active administrator must remain."))
    if errors:
        raise ValidationError(errors)


def user_create(*, actor: User, data: dict[str, Any], password: str, now: dt.datetime | None = None) -> User:
    now = now or timezone.now()
    user = User(**{k: v for k, v in data.items() if k in USER_FIELDS})
    user.username = (user.username or "").strip()
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password1": exc.messages}) from exc
    with transaction.atomic():
        _prepare_user(actor=actor, user=user, before={})
        user.full_clean(exclude=["password"])
        user.set_password(password)
        user.save()
        audit_record(actor=actor, action="user.created", obj=user, after=snapshot(user, USER_FIELDS), at=now)
    return user


def user_update(*, actor: User, user_id: int, data: dict[str, Any], now: dt.datetime | None = None) -> User:
    now = now or timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        audited_save(obj=user, changes=data, fields=USER_FIELDS, actor=actor, action="user.updated", at=now,
                     check=lambda obj, before: _prepare_user(actor=actor, user=obj, before=before), clean_exclude=["password"])
    return user


def user_set_password(*, actor: User, user_id: int, password: str, now: dt.datetime | None = None) -> User:
    """An admin sets a new password (the user should change it after logging in)."""
    now = now or timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password1": exc.messages}) from exc
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=actor, action="user.password_set", obj=user, after={"by_admin": True}, at=now)
    return user


def _check_team(team: Team, _before: dict[str, Any]) -> None:
    if team.supervisor_id and not User.objects.filter(pk=team.supervisor_id, role=Role.SUPERVISOR, is_active=True).exists():
        raise ValidationError({"supervisor": _("Choose an active supervisor.")})


def team_save(*, actor: User, team_id: int | None, data: dict[str, Any], now: dt.datetime | None = None) -> Team:
    now = now or timezone.now()
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team_id) if team_id else Team()
        audited_save(obj=team, changes=data, fields=TEAM_FIELDS, actor=actor,
                     action=f"team.{'created' if team.pk is None else 'updated'}", at=now, check=_check_team)
    return team
