"""Reads for the admin area. Only admins reach these views, so no per-object visibility here."""

from __future__ import annotations

import datetime as dt
import difflib
import zoneinfo

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from cases.choices import CaseStatus, Channel, Objective
from cases.models import Case, Creditor, PlanGuardrails
from collections_crm.accounts.models import Team, User
from collections_crm.audit.models import AuditLog
from collections_crm.selfservice.models import PortalSettings
from contacts.engine import facts_gather, planner, policy, strategy_load
from contacts.engine.contact_policy import PackIndex, contact_histories, debtor_info
from contacts.engine.outbox import template_resolve
from contacts.models import (
    Cadence,
    ExcuseCategory,
    FollowUpSettings,
    JurisdictionPack,
    MessageTemplate,
    MessageTemplateVersion,
    Playbook,
    StrategyRule,
    Technique,
)


def template_list(*, objective: str = "", channel: str = "", language: str = "") -> QuerySet[MessageTemplate]:
    qs = MessageTemplate.objects.select_related("current_version", "current_version__created_by").annotate(
        version_count=Count("versions")
    )
    if objective:
        qs = qs.filter(objective=objective)
    if channel:
        qs = qs.filter(channel=channel)
    if language:
        qs = qs.filter(language=language)
    return qs.order_by("objective", "channel", "language", "name")


def template_get(*, template_id: int) -> MessageTemplate:
    template = MessageTemplate.objects.select_related("current_version").filter(pk=template_id).first()
    if template is None:
        raise Http404
    return template


def template_versions(*, template: MessageTemplate) -> QuerySet[MessageTemplateVersion]:
    return template.versions.select_related("created_by").order_by("-number")


def template_version_get(*, template: MessageTemplate, number: int) -> MessageTemplateVersion:
    version = template.versions.filter(number=number).first()
    if version is None:
        raise Http404
    return version


def version_diff(*, old: MessageTemplateVersion, new: MessageTemplateVersion) -> list[tuple[str, str]]:
    """Unified diff of subject and body as (kind, line) pairs; kind is add, del, hunk or same."""
    a, b = old.body.splitlines(), new.body.splitlines()
    if old.subject or new.subject:
        a, b = [f"Subject: {old.subject}", *a], [f"Subject: {new.subject}", *b]
    lines = []
    for line in list(difflib.unified_diff(a, b, f"v{old.number}", f"v{new.number}", lineterm="", n=2))[2:]:
        kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
        lines.append((kind, line))
    return lines


def template_audit(*, template: MessageTemplate, limit: int = 50) -> QuerySet[AuditLog]:
    return AuditLog.objects.filter(object_type="contacts.messagetemplate", object_id=str(template.pk)).select_related(
        "actor"
    ).order_by("-at")[:limit]


def preview_cases(*, limit: int = 50) -> QuerySet[Case]:
    """Recent open cases to preview a template on."""
    return Case.objects.filter(status__in=CaseStatus.open_values()).select_related("debtor").order_by("-id")[:limit]


def preview_case_get(*, case_id: int | None) -> Case | None:
    if not case_id:
        return None
    return Case.objects.select_related("debtor", "creditor", "assigned_agent").filter(pk=case_id).first()


# --- Policies and catalogues -------------------------------------------------------------------

def strategy_rule_list() -> QuerySet[StrategyRule]:
    """The strategy in the order the engine reads it, with each rule's creditor (its scope)."""
    return StrategyRule.objects.select_related("creditor").order_by("position", "id")


def cadence_list() -> QuerySet[Cadence]:
    return Cadence.objects.prefetch_related("steps")


def cadence_get(*, cadence_id: int) -> Cadence:
    return get_object_or_404(Cadence, pk=cadence_id)


def jurisdiction_pack_list() -> QuerySet[JurisdictionPack]:
    return JurisdictionPack.objects.order_by("code")


def jurisdiction_pack_get(*, pack_id: int | None) -> JurisdictionPack | None:
    """The pack to edit, or None for a new one."""
    return get_object_or_404(JurisdictionPack, pk=pack_id) if pack_id else None


def guardrails_get() -> PlanGuardrails:
    return PlanGuardrails.current()


def portal_settings_for_edit() -> PortalSettings:
    """The portal's policy row (made by a data migration; created with its defaults if missing)."""
    return PortalSettings.objects.get_or_create(pk=1)[0]


def followup_settings_get() -> FollowUpSettings | None:
    """The promise follow-up settings with their reminder template, None before the first save."""
    return FollowUpSettings.objects.select_related("reminder_template").filter(pk=1).first()


def followup_settings_for_edit() -> FollowUpSettings:
    """The settings row to edit (created with its defaults the first time, as the engine does)."""
    return FollowUpSettings.objects.get_or_create(pk=1)[0]


def policies_overview() -> dict:
    """What the policies page shows: strategy, cadences with steps, packs, guardrails and the
    promise follow-up (querysets stay lazy: one query each when the template reads them)."""
    return {"rules": strategy_rule_list(), "cadences": cadence_list(), "packs": jurisdiction_pack_list(),
            "guardrails": guardrails_get(), "followup_settings": followup_settings_get()}


def technique_list() -> QuerySet[Technique]:
    return Technique.objects.all()


def technique_get(*, technique_id: int | None) -> Technique | None:
    return get_object_or_404(Technique, pk=technique_id) if technique_id else None


def excuse_category_list() -> QuerySet[ExcuseCategory]:
    return ExcuseCategory.objects.all()


def excuse_category_get(*, excuse_id: int | None) -> ExcuseCategory | None:
    return get_object_or_404(ExcuseCategory, pk=excuse_id) if excuse_id else None


def playbook_list() -> QuerySet[Playbook]:
    return Playbook.objects.select_related("excuse_category")


def playbook_get(*, playbook_id: int | None) -> Playbook | None:
    return get_object_or_404(Playbook, pk=playbook_id) if playbook_id else None


def why_case(*, case: Case, now: dt.datetime) -> dict:
    """What the follow-up engine would decide for ``case`` now, without writing anything: the
    rule that matches, the objective and its reason, the next step (moved by the contact policy
    of the debtor's jurisdiction pack) and the template version it would send."""
    strategy = strategy_load()
    facts, _rows = facts_gather([case.pk], now, grace_days=strategy.grace_days)
    plan = planner.plan_case(facts[case.pk], strategy, now)
    debtor = case.debtor
    pack, rules = PackIndex().for_country(debtor.country)
    result = {"plan": plan, "pack": pack, "pack_rules": rules, "step": plan.step, "decision": None, "version": None,
              "rules": strategy_rule_list(), "due_local": None,
              "objective_label": Objective(plan.objective).label if plan.objective else "",
              "channel_label": Channel(plan.step.channel).label if plan.step else ""}
    step = plan.step
    if step is not None:
        history = contact_histories(cases=[(case.pk, case.debtor_id)], now=now)[case.pk]
        result["decision"] = policy.can_contact(debtor=debtor_info(debtor), case_status=case.status, channel=step.channel,
                                                at=step.due_at, pack=rules, history=history)
        due = result["decision"].next_allowed_at if not result["decision"].allowed and result["decision"].next_allowed_at else step.due_at
        result["due_local"] = due.astimezone(zoneinfo.ZoneInfo(debtor.timezone))
        if step.kind == "automatic":
            result["version"] = template_resolve(template_id=step.template_id, objective=step.objective, channel=step.channel,
                                                 language=debtor.language)
    return result


# --- People and creditors ----------------------------------------------------------------------

USER_SORTS = {"name": ("first_name", "last_name", "username"), "username": ("username",), "role": ("role", "username"),
              "team": ("team__name", "username"), "open": ("-open_cases", "username")}


def user_list(*, q: str = "", role: str = "", team: str = "", active: str = "", sort: str = "name") -> QuerySet[User]:
    """Users with their team and number of open cases (one query), filtered and sorted."""
    qs = User.objects.select_related("team").annotate(
        open_cases=Count("assigned_cases", filter=Q(assigned_cases__status__in=CaseStatus.open_values())))
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q) | Q(email__icontains=q))
    if role:
        qs = qs.filter(role=role)
    if team.isdigit():
        qs = qs.filter(team_id=int(team))
    if active in ("1", "0"):
        qs = qs.filter(is_active=active == "1")
    return qs.order_by(*USER_SORTS.get(sort, USER_SORTS["name"]))


def user_get(*, user_id: int) -> User:
    return get_object_or_404(User, pk=user_id)


def user_audit(*, user: User, limit: int = 20) -> QuerySet[AuditLog]:
    return AuditLog.objects.filter(object_type="accounts.user", object_id=str(user.pk)).select_related("actor").order_by("-at")[:limit]


def team_list() -> QuerySet[Team]:
    return Team.objects.select_related("supervisor").annotate(agent_count=Count("members")).order_by("name")


def team_options() -> QuerySet[Team]:
    """Teams for a filter's select."""
    return Team.objects.order_by("name")


def team_get(*, team_id: int | None) -> Team | None:
    return get_object_or_404(Team, pk=team_id) if team_id else None


def creditor_list() -> QuerySet[Creditor]:
    return Creditor.objects.annotate(open_cases=Count("cases", filter=Q(cases__status__in=CaseStatus.open_values()))).order_by("name")


def creditor_get(*, creditor_id: int | None) -> Creditor | None:
    return get_object_or_404(Creditor, pk=creditor_id) if creditor_id else None
