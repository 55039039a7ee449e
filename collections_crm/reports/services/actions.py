"""What a supervisor does from the dashboard: move cases between agents, set the team's
priorities, move agents between teams. Each change writes its audit rows in its transaction."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import Case
from cases.selectors import case_visibility_q
from cases.services import case_assign
from collections_crm.accounts.models import Role, Team, User
from collections_crm.audit.services import audit_record

from ..metrics import BUCKET_CODES
from ..models import TeamPriority
from ..selectors import agents_for_user, teams_for_user


def bulk_reassign_limit() -> int:
    return getattr(settings, "REPORTS_BULK_REASSIGN_MAX", 2000)


def cases_reassign(*, actor: User, case_ids: list[int], agent: User, now: dt.datetime | None = None) -> int:
    """Assign every case in ``case_ids`` to ``agent`` through ``case_assign`` (one audit row and
    one replan per case that changes hands). All or nothing: if any case may not be changed by
    ``actor`` nothing is written. Returns how many cases changed hands."""
    now = now or timezone.now()
    ids = sorted(set(case_ids))
    if not ids:
        raise ValidationError({"cases": _("Select at least one case.")})
    if len(ids) > bulk_reassign_limit():
        raise ValidationError(
            {"cases": _("At most %(n)d cases can be reassigned at once; narrow the filter.") % {"n": bulk_reassign_limit()}}
        )
    if not agents_for_user(user=actor).filter(pk=agent.pk).exists():
        raise ValidationError({"agent": _("You cannot assign cases to this agent.")})
    writable = Case.objects.filter(case_visibility_q(user=actor, for_write=True), pk__in=ids).count()
    if writable != len(ids):
        raise ValidationError({"cases": _("Some of the selected cases are not yours to reassign.")})
    changed = 0
    with transaction.atomic():
        # Sorted ids: two supervisors reassigning overlapping sets lock rows in the same order.
        for case_id in ids:
            case = Case.objects.only("assigned_agent_id").get(pk=case_id)
            if case.assigned_agent_id != agent.pk:
                case_assign(actor=actor, case_id=case_id, agent=agent, now=now)
                changed += 1
    return changed


def team_priority_set(
    *, actor: User, team: Team, focus_buckets: list[str], focus_objectives: list[str], note: str = "",
    now: dt.datetime | None = None,
) -> TeamPriority:
    now = now or timezone.now()
    if not teams_for_user(user=actor).filter(pk=team.pk).exists():
        raise ValidationError(_("You do not manage this team."))
    unknown = [b for b in focus_buckets if b not in BUCKET_CODES]
    if unknown:
        raise ValidationError({"focus_buckets": _("Unknown aging bucket: %(b)s") % {"b": ", ".join(unknown)}})
    with transaction.atomic():
        priority, _created = TeamPriority.objects.select_for_update().get_or_create(team=team, defaults={"updated_at": now})
        before = {"focus_buckets": priority.focus_buckets, "focus_objectives": priority.focus_objectives, "note": priority.note}
        priority.focus_buckets = list(focus_buckets)
        priority.focus_objectives = list(focus_objectives)
        priority.note = note.strip()
        priority.updated_by = actor
        priority.updated_at = now
        priority.full_clean()
        priority.save()
        after = {"focus_buckets": priority.focus_buckets, "focus_objectives": priority.focus_objectives, "note": priority.note}
        audit_record(actor=actor, action="team.priority_set", obj=team, before=before, after=after, at=now)
    return priority


def team_member_set(*, actor: User, member: User, team: Team | None, now: dt.datetime | None = None) -> User:
    """Move an agent to ``team`` (or out of any team). Admins move anyone; a supervisor moves
    agents between their own teams and takes in agents who have no team."""
    now = now or timezone.now()
    if member.role != Role.AGENT:
        raise ValidationError({"member": _("Only agents belong to teams.")})
    managed = teams_for_user(user=actor)
    if not actor.is_crm_admin:
        if member.team_id is not None and not managed.filter(pk=member.team_id).exists():
            raise ValidationError({"member": _("This agent belongs to a team you do not manage.")})
        if team is None or not managed.filter(pk=team.pk).exists():
            raise ValidationError({"team": _("You do not manage this team.")})
    with transaction.atomic():
        member = User.objects.select_for_update().get(pk=member.pk)
        before = {"team_id": member.team_id}
        if member.team_id == (team.pk if team else None):
            return member
        member.team = team
        member.save(update_fields=["team"])
        audit_record(actor=actor, action="user.team_changed", obj=member, before=before, after={"team_id": member.team_id}, at=now)
    return member
