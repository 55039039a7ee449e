"""Reads for the follow-up engine: a case's schedule and messages, the contact status of a list
of cases (for the agent's queue), refusals per reason (for the supervisor dashboard)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import get_language

from cases.models import Case
from debtors.models import ContactPoint, Debtor

from .engine import policy
from .engine.contact_policy import PackIndex, contact_histories, debtor_info, point_info, usable_point
from .engine.strategy import cached
from .models import ExcuseCategory, FollowUp, OutboundMessage, Playbook, Technique


@dataclass(frozen=True)
class ContactStatus:
    callable_now: bool
    reason: str
    next_allowed_at: dt.datetime | None
    calls_left_week: int | None


def contact_status_for_cases(*, cases: list[Case], now: dt.datetime, channel: str = "phone") -> dict[int, ContactStatus]:
    """"Callable now? next allowed time, calls left this week" per case id, in five queries
    whatever the number of cases: packs, debtors, contact points, calls on the cases, contacts
    to the debtors. Nothing is recorded: this only informs the queue."""
    if not cases:
        return {}
    packs = PackIndex()  # 1
    debtors = Debtor.objects.in_bulk({c.debtor_id for c in cases})  # 2
    points: dict[int, list[ContactPoint]] = defaultdict(list)
    for row in ContactPoint.objects.filter(debtor_id__in=debtors.keys()):  # 3
        points[row.debtor_id].append(row)
    histories = contact_histories(cases=[(c.pk, c.debtor_id) for c in cases], now=now)  # 4, 5
    result = {}
    for case in cases:
        debtor = debtors[case.debtor_id]
        _pack, rules = packs.for_country(debtor.country)
        point, first = usable_point(points[debtor.pk], channel, rules)
        target: ContactPoint | None = point or first
        decision = policy.can_contact(
            debtor=debtor_info(debtor), case_status=case.status, channel=channel, at=now, pack=rules,
            history=histories[case.pk],
            point=point_info(target),
        )
        result[case.pk] = ContactStatus(decision.allowed, decision.reason, decision.next_allowed_at, decision.calls_left_week)
    return result


def followups_for_case(*, case: Case, limit: int = 10) -> QuerySet[FollowUp]:
    """The case's follow-ups, latest due first (the live one is the latest)."""
    return FollowUp.objects.filter(case=case).select_related("completed_by").order_by("-due_at", "-id")[:limit]


def messages_for_case(*, case: Case, limit: int = 20) -> QuerySet[OutboundMessage]:
    """The case's outbound messages with the exact template version each one used."""
    return OutboundMessage.objects.filter(case=case).select_related("template_version__template").order_by("-created_at", "-id")[:limit]


def playbook_for(*, objective: str, language: str, excuse_category_id: int | None = None) -> Playbook | None:
    """The talking points an agent should follow: the playbook for the objective and the
    debtor's excuse if there is one, else the objective's generic playbook (seed 004)."""
    candidates = Playbook.objects.select_related("excuse_category").filter(objective=objective, language=language, active=True)
    if excuse_category_id:
        specific = candidates.filter(excuse_category_id=excuse_category_id).first()
        if specific:
            return specific
    return candidates.filter(excuse_category__isnull=True).first()


def technique_list(*, active: bool | None = None) -> QuerySet[Technique]:
    qs = Technique.objects.all()
    return qs if active is None else qs.filter(active=active)


def excuse_category_list(*, active: bool | None = None) -> QuerySet[ExcuseCategory]:
    qs = ExcuseCategory.objects.all()
    return qs if active is None else qs.filter(active=active)


def _excuse_names() -> dict[str, tuple[str, str]]:
    return {code: (es, en) for code, es, en in ExcuseCategory.objects.values_list("code", "name_es", "name_en")}


def excuse_name(code: str) -> str:
    """An excuse category's name in the active language (the catalogue is read once per
    STRATEGY_TTL per process, like the strategy), the code itself if it is unknown."""
    names = cached("excuse_names", _excuse_names).get(code)
    if names is None:
        return code
    return names[0] if (get_language() or "es").startswith("es") else names[1]
