"""Reads of cases, with visibility: who may see which case."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Case as DbCase
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, QuerySet, Sum, Value, When
from django.db.models.expressions import OrderBy
from django.http import Http404
from django.utils import timezone

from collections_crm.accounts.models import Role, User
from debtors.models import ContactPoint, Debtor

from .choices import AGING_BUCKETS, CaseStatus, PlanStatus, PromiseStatus
from .guardrails import Limits, plan_needs_approval
from .models import Case, Creditor, Payment, PaymentPlan, PlanGuardrails, PromiseToPay


def case_visibility_q(*, user: User, for_write: bool = False) -> Q:
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
        if not for_write and user.team is not None and user.team.agents_see_team_cases:
            return own | Q(assigned_agent__team_id=user.team_id)
        return own
    return Q(pk__in=[])


def case_list_for_user(*, user: User, for_write: bool = False) -> QuerySet[Case]:
    return Case.objects.filter(case_visibility_q(user=user, for_write=for_write)).select_related("debtor", "creditor", "assigned_agent")


def case_get_for_user(*, user: User, case_id: int, for_write: bool = False) -> Case:
    """The case, or 404 when it does not exist or the user may not see it (no leak)."""
    case = case_list_for_user(user=user, for_write=for_write).filter(pk=case_id).first()
    if case is None:
        raise Http404
    return case


def user_can_write_case(*, user: User, case: Case) -> bool:
    return Case.objects.filter(case_visibility_q(user=user, for_write=True), pk=case.pk).exists()


def case_summary_for_user(*, user: User, now, today) -> dict:
    """Headline figures of the cases ``user`` may see, in a few aggregate queries. They are kept
    for a minute per user: over a whole portfolio the open-case aggregate scans every open case
    (the dashboard's fact tables serve the detailed, filtered figures)."""
    return cast(dict, cache.get_or_set(f"case-summary:{user.pk}:{today}", lambda: _case_summary(user=user, now=now, today=today), 60))


def _case_summary(*, user: User, now, today) -> dict:
    """Counts over the open cases, and money per currency (a portfolio may hold euros and
    dollars: they are never added together). One grouped scan of the open cases."""
    visible = Case.objects.filter(case_visibility_q(user=user))
    open_cases = visible.filter(status__in=CaseStatus.open_values())
    by_currency = list(open_cases.values("currency").annotate(
        open_count=Count("id"),
        outstanding=Sum("balance"),
        due_now=Count("id", filter=Q(next_action_at__lte=now, status__in=CaseStatus.workable_values())),
        never_contacted=Count("id", filter=Q(last_contact_at__isnull=True)),
    ).order_by("-outstanding"))
    figures = {key: sum(row[key] for row in by_currency) for key in ("open_count", "due_now", "never_contacted")}
    figures["outstanding"] = [{"currency": row["currency"], "total": row["outstanding"]} for row in by_currency]
    # Narrow to the few promises that matter first (partial index on pending due dates).
    due_today = Q(status=PromiseStatus.PENDING, due_date=today)
    broken_recently = Q(status=PromiseStatus.BROKEN, resolved_at__gte=now - dt.timedelta(days=7))
    promises = PromiseToPay.objects.filter(due_today | broken_recently, case__in=visible)
    figures.update(
        promises.aggregate(
            promises_due_today=Count("id", filter=due_today),
            promises_broken_recently=Count("id", filter=broken_recently),
        )
    )
    figures["collected_month"] = list(
        Payment.objects.filter(case__in=visible, received_on__gte=today.replace(day=1))
        .values(currency=F("case__currency")).annotate(total=Sum("amount")).order_by("-total")
    )
    return figures


def cases_due_for_user(*, user: User, now, limit: int = 10) -> QuerySet[Case]:
    return (
        case_list_for_user(user=user)
        .filter(status__in=CaseStatus.workable_values(), next_action_at__isnull=False)
        .order_by("next_action_at", "id")[:limit]
    )


# --- The agent's work queue -------------------------------------------------------------------

# Column sorts the queue offers ("-" = the reverse). "days" is days past due, so it runs
# against due_date; ties fall back to the id so pages never overlap.
QUEUE_SORTS: dict[str, OrderBy] = {
    "balance": F("balance").asc(),
    "-balance": F("balance").desc(),
    "days": F("due_date").desc(),
    "-days": F("due_date").asc(),
    "next": F("next_action_at").asc(nulls_last=True),
    "-next": F("next_action_at").desc(nulls_last=True),
    "debtor": F("debtor__name").asc(),
    "-debtor": F("debtor__name").desc(),
    "contact": F("last_contact_at").asc(nulls_first=True),
    "-contact": F("last_contact_at").desc(nulls_last=True),
}


def queue_order(*, now: dt.datetime) -> list:
    """What needs doing now, first: follow-ups due (oldest first), then a promise due today or
    one broken yesterday, then cases never contacted, then the rest by balance and days past
    due. Pure expressions, so it also orders the locked "next case" query."""
    today = timezone.localdate(now)
    promise_hot = Exists(
        PromiseToPay.objects.filter(case=OuterRef("pk")).filter(
            Q(due_date=today, status=PromiseStatus.PENDING)
            | Q(due_date=today - dt.timedelta(days=1), status__in=[PromiseStatus.PENDING, PromiseStatus.BROKEN])
        )
    )
    priority = DbCase(
        When(next_action_at__lte=now, then=Value(0)),
        When(promise_hot, then=Value(1)),
        When(last_contact_at__isnull=True, then=Value(2)),
        default=Value(3),
        output_field=IntegerField(),
    )
    due_at = DbCase(When(next_action_at__lte=now, then=F("next_action_at")), default=None)
    return [priority.asc(), due_at.asc(nulls_last=True), F("balance").desc(), F("due_date").asc(), F("id").asc()]


def aging_due_date_q(*, bucket: str, today: dt.date) -> Q:
    """Cases in an aging bucket, as a range on due_date (indexable) rather than on computed days."""
    for code, low, high in AGING_BUCKETS:
        if code == bucket:
            q = Q()
            if low is not None:
                q &= Q(due_date__lte=today - dt.timedelta(days=low))
            if high is not None:
                q &= Q(due_date__gte=today - dt.timedelta(days=high))
            return q
    return Q()


# Above this many matching debtors the search keeps the match as a subquery instead of a list.
SEARCH_DEBTOR_LIST_LIMIT = 20_000


def case_search_q(*, term: str) -> Q:
    """Name (contains), reference and identity document (a prefix: "XSS-000" finds XSS-000123,
    whatever the case), phone or e-mail (exact after normalising). The matching debtors are looked up first through their own indexes (a trigram index serves
    the name substring on PostgreSQL); a selective term then becomes a short list of debtor ids,
    so any queue, up to the whole portfolio, is filtered by index instead of by scanning cases.
    An unselective term (hundreds of thousands of "García") keeps the subquery: still correct."""
    from debtors.validators import normalise_document, normalise_phone

    term = term.strip()
    if not term:
        return Q()
    values = {term, term.lower()}
    try:
        values.add(normalise_phone(term))
    except ValidationError:
        pass
    document = normalise_document(term)
    by_document = Q(document_number__startswith=document) if document else Q(pk__in=[])
    # Prefixes are served on PostgreSQL by pattern-ops indexes (cases 0011, debtors 0006).
    debtors = Debtor.objects.filter(Q(name__icontains=term) | by_document).values_list("pk", flat=True)
    contacts = ContactPoint.objects.filter(value__in=values).values_list("debtor_id", flat=True)
    ids = set(debtors[: SEARCH_DEBTOR_LIST_LIMIT + 1]) | set(contacts[: SEARCH_DEBTOR_LIST_LIMIT + 1])
    by_reference = Q(reference__istartswith=term)
    if len(ids) <= SEARCH_DEBTOR_LIST_LIMIT:
        return by_reference | Q(debtor_id__in=ids) if ids else by_reference
    return by_reference | Q(debtor_id__in=debtors) | Q(debtor_id__in=contacts)


def agent_sees_team(*, user: User) -> bool:
    """The team's policy lets its agents see (read-only) their teammates' cases."""
    return bool(user.is_agent and user.team is not None and user.team.agents_see_team_cases)


def case_queue_for_user(*, user: User, now: dt.datetime, filters: dict | None = None, narrow: Q | None = None) -> QuerySet[Case]:
    """The queue: an agent's own cases; a supervisor's or admin's every case they may act on.
    Open cases unless a status is asked for; filtered, searched and ordered. ``narrow``: a
    condition of a higher layer (the desk's "portal activity since my last look")."""
    filters = filters or {}
    today = timezone.localdate(now)
    if user.is_agent and filters.get("scope") == "team" and agent_sees_team(user=user):
        qs = Case.objects.filter(case_visibility_q(user=user))  # read-only for the teammates' cases
    elif user.is_agent:
        qs = Case.objects.filter(assigned_agent=user)
    elif user.is_supervisor:
        # Same cases as case_visibility_q(for_write=True), with the team's agents as a list so
        # PostgreSQL can use the queue index instead of scanning every case through a join.
        agents = list(User.objects.filter(team__supervisor=user).values_list("pk", flat=True))
        qs = Case.objects.filter(Q(assigned_agent_id__in=agents) | Q(assigned_agent__isnull=True))
    else:
        qs = Case.objects.filter(case_visibility_q(user=user, for_write=True))
    qs = qs.filter(status=filters["status"]) if filters.get("status") else qs.filter(status__in=CaseStatus.open_values())
    if filters.get("objective"):
        qs = qs.filter(objective=filters["objective"])
    if filters.get("aging"):
        qs = qs.filter(aging_due_date_q(bucket=filters["aging"], today=today))
    if filters.get("creditor"):
        qs = qs.filter(creditor_id=filters["creditor"])
    if filters.get("q"):
        qs = qs.filter(case_search_q(term=filters["q"]))
    if narrow is not None:
        qs = qs.filter(narrow)
    sort = QUEUE_SORTS.get(filters.get("sort") or "")
    if sort is None:
        return qs.order_by(*queue_order(now=now))
    return qs.order_by(sort, "id")


def case_queue_page(*, user: User, now: dt.datetime, filters: dict | None = None, page: int | str = 1, per_page: int = 25,
                    narrow: Q | None = None):
    """One page of the queue in three queries (count, the page's ids, its rows with debtor,
    creditor and agent). Ordering and paging run on the cases alone; only the page's 25 rows
    are joined, which keeps a supervisor's queue of thousands of cases fast."""
    ordered = case_queue_for_user(user=user, now=now, filters=filters, narrow=narrow)
    page_obj = Paginator(ordered.values_list("pk", flat=True), per_page).get_page(page)
    ids = list(page_obj.object_list)
    rows = Case.objects.select_related("debtor", "creditor", "assigned_agent").in_bulk(ids)
    return page_obj, [rows[pk] for pk in ids]


def plan_inbox_for_user(*, user: User, today: dt.date, page: int | str = 1, per_page: int = 25):
    """Proposed payment plans on cases ``user`` may act on, oldest first, each with the reasons
    it exceeds the admins' guardrails (empty: the agent may agree it once the debtor accepts)
    and what ``user`` may do with it (``actions``, see plan_actions_for_user)."""
    plans = (
        PaymentPlan.objects.filter(status=PlanStatus.PROPOSED,
                                   case__in=Case.objects.filter(case_visibility_q(user=user, for_write=True)).values("pk"))
        .select_related("case__debtor", "case__creditor", "case__assigned_agent", "created_by")
        .order_by("created_at", "id")
    )
    page_obj = Paginator(plans, per_page).get_page(page)
    limits = Limits.from_model(PlanGuardrails.current())
    rows = []
    for plan in page_obj:
        actions = plan_actions_for_user(user=user, plan=plan, case=plan.case, can_write=True, today=today, limits=limits)
        rows.append({"plan": plan, "reasons": list(actions.reasons), "actions": actions})
    return page_obj, rows


# --- What a user may do with a payment plan ---------------------------------------------------


def user_may_approve_plans(*, user: User | None) -> bool:
    """Whether ``user`` may make a plan beyond the admins' guardrails live: supervisors and
    admins (and the system itself, ``None``), never an agent."""
    return getattr(user, "role", None) != Role.AGENT


@dataclass(frozen=True)
class PlanActions:
    """What one user may do with one payment plan now. Templates read it and decide nothing;
    the services (cases.services.plan_agree, plan_adjust_to_balance, plan_cancel) apply the
    same rules when the action is taken."""

    agree: bool = False  # "Debtor agreed": a proposal within the guardrails goes live
    approve: bool = False  # "Approve": a proposal beyond the guardrails, by a supervisor or admin
    awaiting_approval: bool = False  # beyond the guardrails and the user is an agent: only a supervisor may
    adjust: bool = False  # the proposal is larger than the balance now: rescale it to the balance
    cancel: bool = False  # reject a proposal or cancel a live plan
    reasons: tuple[str, ...] = ()  # why the proposal exceeds the guardrails
    balance: Decimal | None = None  # the case's balance, when the proposal no longer fits it
    excess: Decimal | None = None  # by how much the proposal exceeds the balance

    @property
    def any(self) -> bool:
        return self.agree or self.approve or self.adjust or self.cancel


NO_PLAN_ACTIONS = PlanActions()


def plan_actions_for_user(
    *, user: User, plan: PaymentPlan | None, case: Case, can_write: bool, today: dt.date, limits: Limits | None = None,
) -> PlanActions:
    """Which of agree, approve, adjust and cancel ``user`` may take on ``plan`` (of ``case``)
    now. ``can_write``: the user may act on the case at all (cases.selectors.user_can_write_case).
    A proposal larger than the case's balance (a payment arrived after it was proposed) can only
    be adjusted to the balance or rejected; one beyond the guardrails is approved by a
    supervisor or admin; one within them goes live when the debtor agrees."""
    if plan is None or not can_write or plan.status not in (PlanStatus.PROPOSED, PlanStatus.ACTIVE):
        return NO_PLAN_ACTIONS
    if plan.status == PlanStatus.ACTIVE:
        return PlanActions(cancel=True)
    if not case.is_open:
        return PlanActions(cancel=True)
    if plan.total_amount > case.balance:
        return PlanActions(adjust=case.balance > 0, cancel=True, balance=case.balance, excess=plan.total_amount - case.balance)
    reasons = tuple(plan_needs_approval(
        limits=limits or Limits.from_model(PlanGuardrails.current()), balance=case.balance, total_amount=plan.total_amount,
        discount_amount=plan.discount_amount, instalment_count=plan.instalment_count, frequency=plan.frequency,
        first_due_date=plan.first_due_date, today=today, currency=case.currency,
    ))
    if not reasons:
        return PlanActions(agree=True, cancel=True)
    may_approve = user_may_approve_plans(user=user)
    return PlanActions(approve=may_approve, awaiting_approval=not may_approve, cancel=True, reasons=reasons)


def open_case_count_for_agent(*, user: User) -> int:
    """Open cases assigned to ``user`` (answers collections_crm.accounts.hooks.open_case_count)."""
    return Case.objects.filter(assigned_agent=user, status__in=CaseStatus.open_values()).count()


CREDITOR_CURRENCIES_CACHE_KEY = "cases:creditor-currencies"


def creditor_currencies() -> list[str]:
    """The currencies of the creditors, the one with the most creditors first (cached for a few
    minutes; creditor_currencies_forget() after saving a creditor)."""
    def load() -> list[str]:
        rows = Creditor.objects.values("currency").annotate(n=Count("id")).order_by("-n", "currency")
        return [r["currency"] for r in rows] or ["EUR"]

    return cast(list[str], cache.get_or_set(CREDITOR_CURRENCIES_CACHE_KEY, load, 300))


def creditor_currencies_forget() -> None:
    cache.delete(CREDITOR_CURRENCIES_CACHE_KEY)


def case_has_plan(*, case: Case, plan_id: int) -> bool:
    return case.plans.filter(pk=plan_id).exists()
