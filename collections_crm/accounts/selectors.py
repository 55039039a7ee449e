"""Reads about staff: teams and head counts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from .models import Role, Team, User

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def team_list_supervised_by(*, user: User) -> QuerySet[Team]:
    return Team.objects.filter(supervisor=user).prefetch_related("members")


def user_counts_by_role() -> dict[StrOrPromise, int]:
    """Active users per role label (every role, zero included)."""
    return {r.label: User.objects.filter(role=r.value, is_active=True).count() for r in Role}
