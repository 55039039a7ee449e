"""Reads of cases, with visibility: who may see which case."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, DecimalField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404

from collections_crm.accounts.models import Role, User

from .choices import CaseStatus, PromiseStatus
from .models import Case, Payment, PromiseToPay


def case_visibility_q(user: User, *, for_write: bool = False) -> Q:
    """Cases ``user`` may see (or act on, with ``for_write``). Deny by default."""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_superuser or user.role == Role.ADMIN:
        return Q()
    if user.role == Role.SUPERVISOR:
        # Their teams' agents' cases, and unassigned cases waiting to be handed out.
        return Q(assigned_agent__team__supervisor=user) | Q(assigned_agent__isnull=True)
    if user.role == Role.AGENT:
        own = Q(assigned_agent=user)
        if not for_write and user.team_id and user.team.agents_see_team_cases:
            return own | Q(assigned_agent__team_id=user.team_id)
        return own
    return Q(pk__in=[])


def case_list_for_user(*, user: User, for_write: bool = False) -> QuerySet[Case]:
    return Case.objects.filter(case_visibility_q(user, for_write=for_write)).select_related("debtor", "creditor", "assigned_agent")


def case_get_for_user(*, user: User, case_id: int, for_write: bool = False) -> Case:
    """The case, or 404 when it does not exist or the user may not see it (no leak)."""
    case = case_list_for_user(user=user, for_write=for_write).filter(pk=case_id).first()
    if case is None:
        raise Http404
    return case


def user_can_write_case(user: User, case: Case) -> bool:
    return Case.objects.filter(case_visibility_q(user, for_write=True), pk=case.pk).exists()


def case_summary_for_user(*, user: User, now, today) -> dict:
    """Headline figures of the cases ``user`` may see, in a few aggregate queries."""
    visible = Case.objects.filter(case_visibility_q(user))
    open_cases = visible.filter(status__in=CaseStatus.open_values())
    money = DecimalField(max_digits=16, decimal_places=2)
    figures = open_cases.aggregate(
        open_count=Count("id"),
        outstanding=Coalesce(Sum("balance"), Value(0), output_field=money),
        due_now=Count("id", filter=Q(next_action_at__lte=now, status__in=CaseStatus.workable_values())),
        never_contacted=Count("id", filter=Q(last_contact_at__isnull=True)),
    )
    promises = PromiseToPay.objects.filter(case__in=visible)
    figures.update(
        promises.aggregate(
            promises_due_today=Count("id", filter=Q(status=PromiseStatus.PENDING, due_date=today)),
            promises_broken_recently=Count("id", filter=Q(status=PromiseStatus.BROKEN, resolved_at__gte=now - dt.timedelta(days=7))),
        )
    )
    figures["collected_month"] = Payment.objects.filter(
        case__in=visible, received_on__gte=today.replace(day=1)
    ).aggregate(total=Coalesce(Sum("amount"), Value(0), output_field=money))["total"]
    return figures


def cases_due_for_user(*, user: User, now, limit: int = 10) -> QuerySet[Case]:
    return (
        case_list_for_user(user=user)
        .filter(status__in=CaseStatus.workable_values(), next_action_at__isnull=False)
        .order_by("next_action_at", "-balance")[:limit]
    )
