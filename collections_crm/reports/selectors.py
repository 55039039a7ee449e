"""Reads for the portfolio dashboard: who may see which slice (scope), the figures from the
pre-aggregated facts, and the live list of cases behind any figure (drill-down)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.choices import CaseStatus, Channel, Objective, Outcome, PromiseStatus
from cases.models import Case, Creditor, Payment, PromiseToPay
from cases.selectors import case_visibility_q, creditor_currencies
from collections_crm.accounts.models import Role, Team, User
from collections_crm.audit.models import AuditLog
from collections_crm.core.dates import add_months, month_end, month_start, months_between
from collections_crm.selfservice.models import LinkSource
from contacts.models import ContactAttempt, ContactRefusal, ExcuseCategory, Technique
from debtors.models import contact_paused_q

from .metrics import BUCKET_CODES, CLOSED, days_between, due_date_range_for_bucket, proportion, ratio
from .models import (
    AttemptDaily,
    ChannelDaily,
    MoneyDaily,
    ObjectiveMoveDaily,
    PortalLinkDaily,
    PortfolioSnapshot,
    PromiseDaily,
    RebuildState,
    RefusalDaily,
    RollMonthly,
    TeamPriority,
    TechniqueDaily,
)
from .rollups import fact_sums

ZERO = Decimal("0.00")


# --- Who sees what ------------------------------------------------------------------------


def teams_for_user(*, user: User) -> QuerySet[Team]:
    if user.is_crm_admin:
        return Team.objects.all()
    if user.role == Role.SUPERVISOR:
        return Team.objects.filter(supervisor=user)
    return Team.objects.none()


def teams_with_members_for_user(*, user: User) -> QuerySet[Team]:
    """The teams ``user`` manages with their supervisor and members (three queries)."""
    return teams_for_user(user=user).select_related("supervisor").prefetch_related("members")


def team_get_for_user(*, user: User, team_id: int) -> Team:
    """A team ``user`` manages, or 404."""
    return get_object_or_404(teams_for_user(user=user), pk=team_id)


def agents_for_user(*, user: User) -> QuerySet[User]:
    """Active agents ``user`` may filter on and hand cases to."""
    agents = User.objects.filter(role=Role.AGENT, is_active=True).select_related("team")
    if user.is_crm_admin:
        return agents
    if user.role == Role.SUPERVISOR:
        return agents.filter(team__supervisor=user)
    return agents.none()


def portfolio_currencies() -> list[str]:
    """The currencies of the creditors, the one with the most creditors first."""
    return creditor_currencies()


@dataclass
class Scope:
    """A slice of the portfolio: the filters, already narrowed to what the user may see."""

    user: User
    date_from: dt.date
    date_to: dt.date
    creditor_id: int | None = None
    # The creditors whose figures count: None for all; the chosen one; or, when the portfolio
    # holds several currencies, every creditor in the chosen currency (money is never added
    # across currencies; a creditor's cases are in its currency).
    creditor_ids: list[int] | None = None
    currency: str = "EUR"
    # None: every agent. Otherwise the agents whose figures count.
    agent_ids: list[int] | None = None
    # Unassigned cases (and system-made interactions) belong to the portfolio of whoever hands
    # cases out: admins and supervisors, unless they filtered on a team or an agent.
    include_unassigned: bool = True
    today: dt.date = field(default_factory=dt.date.today)

    def agent_q(self, name: str = "agent_id", *, with_creditor: bool = True) -> Q:
        """Rows whose ``name`` (an agent id) is in the slice, and of the chosen creditor."""
        if self.agent_ids is None:
            q = Q() if self.include_unassigned else Q(**{f"{name}__isnull": False})
        else:
            q = Q(**{f"{name}__in": self.agent_ids})
            if self.include_unassigned:
                q |= Q(**{f"{name}__isnull": True})
        if with_creditor and self.creditor_ids is not None:
            q &= Q(creditor_id__in=self.creditor_ids)
        return q

    def fact_q(self, date_field: str = "day") -> Q:
        return self.agent_q() & Q(**{f"{date_field}__gte": self.date_from, f"{date_field}__lte": self.date_to})


def scope_for_user(
    *, user: User, today: dt.date, date_from: dt.date, date_to: dt.date, creditor_id: int | None = None,
    team: Team | None = None, agent: User | None = None, currency: str | None = None,
) -> Scope:
    """Narrow the requested filters to what ``user`` may see. The form already limited the
    team and agent choices; this is the rule itself (deny by default)."""
    currencies = portfolio_currencies()
    if creditor_id is not None:
        creditor_ids = [creditor_id]
        currency = Creditor.objects.filter(pk=creditor_id).values_list("currency", flat=True).first() or currencies[0]
    elif len(currencies) > 1:
        currency = currency if currency in currencies else currencies[0]
        creditor_ids = list(Creditor.objects.filter(currency=currency).values_list("pk", flat=True))
    else:
        currency, creditor_ids = currencies[0], None
    scope = Scope(user=user, date_from=date_from, date_to=date_to, creditor_id=creditor_id, creditor_ids=creditor_ids,
                  currency=currency, today=today)
    if user.is_crm_admin:
        scope.agent_ids = None
    elif user.role == Role.SUPERVISOR:
        scope.agent_ids = list(User.objects.filter(role=Role.AGENT, team__supervisor=user).values_list("pk", flat=True))
    else:
        scope.agent_ids, scope.include_unassigned = [user.pk], False
        return scope
    if team is not None:
        members = set(User.objects.filter(team=team).values_list("pk", flat=True))
        scope.agent_ids = sorted(members if scope.agent_ids is None else members & set(scope.agent_ids))
        scope.include_unassigned = False
    if agent is not None:
        allowed = scope.agent_ids is None or agent.pk in scope.agent_ids
        scope.agent_ids = [agent.pk] if allowed else []
        scope.include_unassigned = False
    return scope


# --- Figures ------------------------------------------------------------------------------


def _sum(qs: QuerySet, *fields: str) -> dict:
    totals = qs.aggregate(**{f: Sum(f) for f in fields})
    return {f: totals[f] or 0 for f in fields}


def portfolio_figures(scope: Scope) -> dict:
    totals = fact_sums(scope, MoneyDaily, (), placed_cases="placed_cases", placed_amount="placed_amount", payments="payments", collected="collected")[0]
    money = {k: v or 0 for k, v in totals.items()}
    snapshot = PortfolioSnapshot.objects.filter(scope.agent_q())
    stock = _sum(snapshot, "cases", "balance", "no_next_step", "overdue")
    by_bucket = {b: {"bucket": b, "cases": 0, "balance": ZERO} for b in BUCKET_CODES}
    for row in snapshot.values("bucket").annotate(n=Sum("cases"), amount=Sum("balance")).order_by():
        by_bucket[row["bucket"]].update(cases=row["n"], balance=row["amount"])
    return {
        "placed_cases": money["placed_cases"],
        "placed_amount": money["placed_amount"],
        "payments": money["payments"],
        "collected": money["collected"],
        "open_cases": stock["cases"],
        "outstanding": stock["balance"],
        "no_next_step": stock["no_next_step"],
        "overdue": stock["overdue"],
        "aging": list(by_bucket.values()),
    }


def roll_rates(scope: Scope) -> dict:
    """Month-over-month movement between aging buckets. For each month and starting bucket:
    the share of cases (and of balance) that rolled to a worse bucket, stayed, or closed.
    ``month`` is where a move starts: the period's months are where moves end."""
    first, last = add_months(month_start(scope.date_from), -1), add_months(month_start(scope.date_to), -1)
    rows = (
        RollMonthly.objects.filter(scope.agent_q(), month__gte=first, month__lte=last)
        .values("month", "from_bucket", "to_bucket")
        .annotate(n=Sum("cases"), amount=Sum("balance"))
        .order_by()
    )
    cells: dict[tuple, dict] = defaultdict(lambda: {"cases": 0, "balance": ZERO})
    for r in rows:
        cell = cells[(r["month"], r["from_bucket"], r["to_bucket"])]
        cell["cases"] += r["n"]
        cell["balance"] += r["amount"] or ZERO
    months = months_between(first, last) if first <= last else []
    series = []
    order = {b: i for i, b in enumerate(BUCKET_CODES)}
    for month in months:
        for src in BUCKET_CODES:
            moves = {dst: cells[(month, src, dst)] for dst in [*BUCKET_CODES, CLOSED] if (month, src, dst) in cells}
            total = sum(c["cases"] for c in moves.values())
            total_balance = sum((c["balance"] for c in moves.values()), ZERO)
            if not total:
                continue
            worse = sum(c["cases"] for dst, c in moves.items() if dst != CLOSED and order[dst] > order[src])
            worse_balance = sum((c["balance"] for dst, c in moves.items() if dst != CLOSED and order[dst] > order[src]), ZERO)
            closed = moves.get(CLOSED, {"cases": 0})["cases"]
            series.append({
                "month": month, "bucket": src, "cases": total, "balance": total_balance,
                "rolled": worse, "roll_rate": ratio(worse, total), "balance_roll_rate": ratio(worse_balance, total_balance),
                "closed": closed, "closed_rate": ratio(closed, total),
            })
    # Balance open at each month end, for the monthly liquidation rate.
    open_at_end = defaultdict(lambda: ZERO)
    for (month, _src, _dst), cell in cells.items():
        open_at_end[month] += cell["balance"]
    return {"months": months, "series": series, "open_at_end": dict(open_at_end)}


def recovery_over_time(scope: Scope) -> list[dict]:
    """Per month: placed, collected, and the liquidation rate = collected in the month divided
    by the balance open at the end of the previous month."""
    months = months_between(scope.date_from, scope.date_to)
    rows = fact_sums(scope, MoneyDaily, ["day"], placed="placed_amount", collected_sum="collected")
    per_month = defaultdict(lambda: {"placed": ZERO, "collected": ZERO})
    for r in rows:
        bucket = per_month[month_start(r["day"])]
        bucket["placed"] += r["placed"] or ZERO
        bucket["collected"] += r["collected_sum"] or ZERO
    previous_ends = (
        RollMonthly.objects.filter(scope.agent_q(), month__gte=add_months(months[0], -1), month__lte=add_months(months[-1], -1))
        .values("month")
        .annotate(amount=Sum("balance"))
        .order_by()
    )
    opening = {add_months(r["month"], 1): r["amount"] for r in previous_ends}
    return [
        {
            "month": m, "placed": per_month[m]["placed"], "collected": per_month[m]["collected"], "opening": opening.get(m),
            "liquidation_rate": ratio(per_month[m]["collected"], opening.get(m)),
        }
        for m in months
    ]


RESOLVED = [PromiseStatus.KEPT, PromiseStatus.PARTIAL, PromiseStatus.BROKEN]


def _promise_row(counts: dict[str, int], amounts: dict[str, Decimal], paid: Decimal) -> dict:
    resolved = sum(counts.get(s, 0) for s in RESOLVED)
    return {
        "made": sum(counts.values()),
        "kept": counts.get(PromiseStatus.KEPT, 0),
        "partial": counts.get(PromiseStatus.PARTIAL, 0),
        "broken": counts.get(PromiseStatus.BROKEN, 0),
        "pending": counts.get(PromiseStatus.PENDING, 0),
        "amount": sum(amounts.values(), ZERO),
        "amount_paid": paid,
        "kept_rate": proportion(counts.get(PromiseStatus.KEPT, 0), resolved),
    }


def promise_figures(scope: Scope) -> dict:
    """Promises made in the period, their status now; kept rate = kept / resolved (kept,
    partially kept or broken), so that promises still pending do not count as failures."""
    sums = {"n": "promises", "amount_sum": "amount", "paid": "amount_paid"}
    groups: dict[tuple, dict] = defaultdict(lambda: {"counts": defaultdict(int), "amounts": defaultdict(lambda: ZERO), "paid": ZERO})
    # Two groupings (each has a company-wide rollup); the total is the sum of either.
    for dim, keys in (("agent_id", ("agent",)), ("objective", ("objective", "total"))):
        for r in fact_sums(scope, PromiseDaily, [dim, "status"], **sums):
            for kind in keys:
                g = groups[(kind, None if kind == "total" else r[dim])]
                g["counts"][r["status"]] += r["n"]
                g["amounts"][r["status"]] += r["amount_sum"]
                g["paid"] += r["paid"]
    rowify = {key: _promise_row(g["counts"], g["amounts"], g["paid"]) for key, g in groups.items()}
    agents = _agent_names({k[1] for k in rowify if k[0] == "agent"})
    return {
        "total": rowify.get(("total", None), _promise_row({}, {}, ZERO)),
        "by_agent": sorted(
            [{"agent_id": k[1], "agent": agents.get(k[1]), **v} for k, v in rowify.items() if k[0] == "agent"],
            key=lambda r: (r["agent"] or "").lower(),
        ),
        "by_objective": [
            {"objective": o.value, "label": o.label, **rowify[("objective", o.value)]}
            for o in Objective if ("objective", o.value) in rowify
        ],
    }


def _agent_names(ids) -> dict[int | None, str]:
    names = {u.pk: u.display_name() for u in User.objects.filter(pk__in=[i for i in ids if i])}
    return names


def activity_figures(scope: Scope) -> dict:
    """Per agent and per day: attempts, right-party contacts, promises, money collected. Each
    table is grouped by one key in the database, so the rows read stay few at any scale."""
    per_agent: dict = defaultdict(lambda: {"attempts": 0, "right_party": 0, "promises": 0, "collected": ZERO, "no_next_step": 0, "overdue": 0})
    per_day: dict = defaultdict(lambda: {"attempts": 0, "right_party": 0, "promises": 0, "collected": ZERO})
    for key, target in (("agent_id", per_agent), ("day", per_day)):
        for r in fact_sums(scope, AttemptDaily, [key], n="attempts", rpc="right_party"):
            target[r[key]]["attempts"] += r["n"]
            target[r[key]]["right_party"] += r["rpc"]
        for r in fact_sums(scope, PromiseDaily, [key], n="promises"):
            target[r[key]]["promises"] += r["n"]
        for r in fact_sums(scope, MoneyDaily, [key], amount="collected"):
            target[r[key]]["collected"] += r["amount"]
    for r in PortfolioSnapshot.objects.filter(scope.agent_q()).values("agent_id").annotate(a=Sum("no_next_step"), b=Sum("overdue")).order_by():
        per_agent[r["agent_id"]]["no_next_step"] += r["a"]
        per_agent[r["agent_id"]]["overdue"] += r["b"]
    names = _agent_names(per_agent.keys())
    agents = sorted(
        ({"agent_id": k, "agent": names.get(k), **v} for k, v in per_agent.items()),
        key=lambda r: (r["agent_id"] is None, (r["agent"] or "").lower()),
    )
    days = [{"day": d, **per_day[d]} for d in days_between(scope.date_from, scope.date_to)]
    return {"agents": agents, "days": days}


def objective_figures(scope: Scope) -> dict:
    """Cases per objective now, the movement between objectives in the period, and what each
    objective yields: promises and money following its interactions, promises kept."""
    stock = {r["objective"]: r for r in PortfolioSnapshot.objects.filter(scope.agent_q()).values("objective").annotate(n=Sum("cases"), amount=Sum("balance")).order_by()}
    attempts = {
        r["objective"]: r
        for r in fact_sums(scope, AttemptDaily, ["objective"], n="attempts", p="led_promise", k="led_kept", m="led_money")
    }
    kept = {
        r["objective"]: r
        for r in fact_sums(scope, PromiseDaily, ["objective"], paid="amount_paid", n="promises")
    }
    rows = []
    for o in Objective:
        a = attempts.get(o.value, {})
        rows.append({
            "objective": o.value, "label": o.label,
            "cases": stock.get(o.value, {}).get("n") or 0, "balance": stock.get(o.value, {}).get("amount") or ZERO,
            "attempts": a.get("n") or 0,
            "promise_rate": proportion(a.get("p") or 0, a.get("n") or 0),
            "money_rate": proportion(a.get("m") or 0, a.get("n") or 0),
            "promises": kept.get(o.value, {}).get("n") or 0,
            "promised_paid": kept.get(o.value, {}).get("paid") or ZERO,
        })
    moves = (
        ObjectiveMoveDaily.objects.filter(scope.fact_q())
        .values("from_objective", "to_objective").annotate(n=Sum("moves")).order_by("-n")
    )
    labels = dict(Objective.choices)
    return {
        "rows": rows,
        "moves": [{"from": m["from_objective"], "to": m["to_objective"], "from_label": labels.get(m["from_objective"]),
                   "to_label": labels.get(m["to_objective"]), "moves": m["n"]} for m in moves],
    }


TECHNIQUE_CUTS = {
    "technique": [],
    "objective": ["objective"],
    "excuse": ["excuse_category_id"],
    "agent": ["agent_id"],
}


def technique_effectiveness(scope: Scope, cut: str = "technique") -> dict:
    """For each technique (and the chosen cut): the share of interactions followed by a
    promise, a kept promise and money within the effect window, with 95 % Wilson intervals.
    Rows with too few interactions are listed last and not ranked."""
    extra = TECHNIQUE_CUTS.get(cut, [])
    rows = list(fact_sums(
        scope, TechniqueDaily, ["technique_id", *extra], n="interactions", cases="case_days", p="led_promise", k="led_kept", m="led_money",
    ))
    techniques = {t.pk: t for t in Technique.objects.all()}
    objective_labels = dict(Objective.choices)
    excuses = {e.pk: e.name for e in ExcuseCategory.objects.all()} if cut == "excuse" else {}
    agents = _agent_names({r["agent_id"] for r in rows}) if cut == "agent" else {}
    result = []
    for r in rows:
        value = r.get(extra[0]) if extra else None
        cut_label = {
            "objective": objective_labels.get(value), "excuse": excuses.get(value), "agent": agents.get(value),
        }.get(cut)
        result.append({
            "technique_id": r["technique_id"],
            "technique": techniques[r["technique_id"]].name if r["technique_id"] in techniques else "?",
            "cut_value": value, "cut_label": cut_label,
            "interactions": r["n"], "case_days": r["cases"],
            "promise": proportion(r["p"], r["n"]), "kept": proportion(r["k"], r["n"]), "money": proportion(r["m"], r["n"]),
        })
    # Rank by the lower end of the interval: a technique ranks high only when we are sure.
    result.sort(key=lambda r: (not r["promise"].enough, -(r["promise"].low or 0), r["technique"]))
    return {"rows": result, "cut": cut}


# The contact policy's reason codes (contacts.policy), in words a supervisor reads.
REFUSAL_REASONS = {
    "case_closed": _("Case closed"), "case_paused": _("Case disputed or on hold"),
    "cease_communication": _("Debtor asked us to stop"), "do_not_contact": _("Do not contact"),
    "attorney_represented": _("Represented by an attorney"), "deceased": _("Deceased"), "bankruptcy": _("Bankruptcy"),
    "point_opted_out": _("Contact point opted out"), "point_do_not_contact": _("Contact point: do not contact"),
    "point_unusable": _("Contact point not valid"),
    "no_consent": _("No consent for automated messages"), "outside_hours": _("Outside permitted hours"),
    "weekday_not_allowed": _("Day not permitted"), "holiday": _("Public holiday"),
    "weekly_call_cap": _("Weekly call limit reached"), "conversation_pause": _("Pause after a conversation"),
    "daily_cap": _("Daily contact limit reached"),
}


def refusal_figures(scope: Scope) -> dict:
    """Contacts the policy refused in the period, by reason and by channel."""
    rows = RefusalDaily.objects.filter(scope.fact_q()).values("reason", "channel").annotate(n=Sum("refusals")).order_by()
    by_reason: dict[str, int] = defaultdict(int)
    by_channel: dict[str, int] = defaultdict(int)
    for r in rows:
        by_reason[r["reason"]] += r["n"]
        by_channel[r["channel"]] += r["n"]
    channels = dict(Channel.choices)
    return {
        "total": sum(by_reason.values()),
        "by_reason": [{"reason": k, "label": REFUSAL_REASONS.get(k, k), "refusals": v} for k, v in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))],
        "by_channel": [{"channel": k, "label": channels.get(k, k), "refusals": v} for k, v in sorted(by_channel.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


# Channel order on the dashboard: the portal first (the new channel the view is about), then
# the others as Channel lists them, then "no contact before it".
CHANNEL_ORDER = ["portal", *[c for c in Channel.values if c != "portal"], "none"]


def channel_figures(scope: Scope) -> dict:
    """Money collected, promises and plans in the period by the channel that brought them."""
    rows = {r["channel"]: r for r in ChannelDaily.objects.filter(scope.fact_q()).values("channel").annotate(
        payments=Sum("payments"), collected=Sum("collected"), promises=Sum("promises"), promised=Sum("promised"), plans=Sum("plans"),
    ).order_by()}
    labels = {**dict(Channel.choices), "none": _("No contact before it")}
    keys = ("payments", "collected", "promises", "promised", "plans")
    out = [{"channel": c, "label": labels.get(c, c), **{k: rows[c][k] or 0 for k in keys}}
           for c in sorted(rows, key=lambda c: CHANNEL_ORDER.index(c) if c in CHANNEL_ORDER else len(CHANNEL_ORDER))]
    total = {k: sum(r[k] for r in out) for k in keys}
    for r in out:
        r["share"] = ratio(r["collected"], total["collected"])
    return {"rows": out, "total": total}


def portal_link_figures(scope: Scope) -> dict:
    """Personal links given in the period, by where they were given: click-through (opened /
    issued) and conversion (converted / opened)."""
    rows = {r["source"]: r for r in PortalLinkDaily.objects.filter(scope.fact_q()).values("source").annotate(
        issued=Sum("issued"), opened=Sum("opened"), converted=Sum("converted")).order_by()}
    labels = dict(LinkSource.choices)

    def row(source, label, r):
        return {"source": source, "label": label, "issued": r["issued"], "opened": r["opened"], "converted": r["converted"],
                "click_through": proportion(r["opened"], r["issued"]), "conversion": proportion(r["converted"], r["opened"])}

    out = [row(s, labels.get(s, s), rows[s]) for s in LinkSource.values if s in rows]
    total = {k: sum(rows[s][k] or 0 for s in rows) for k in ("issued", "opened", "converted")}
    return {"rows": out, "total": row("", _("All"), total)}


def rebuild_state() -> RebuildState | None:
    return RebuildState.objects.filter(name="dashboard").first()


def priorities_for_teams(*, teams) -> list[TeamPriority]:
    return list(TeamPriority.objects.filter(team__in=teams).select_related("team", "updated_by"))


def priorities_for_user(*, user: User) -> list[TeamPriority]:
    """The team priorities shown to ``user``: an agent's own team's, else those of the teams they manage."""
    if user.is_agent:
        return priorities_for_teams(teams=[user.team] if user.team_id else [])
    return priorities_for_teams(teams=teams_for_user(user=user))


# --- Drill-down: the live cases behind a figure ---------------------------------------------

DRILL_KINDS = ("open", "placed", "collected", "promises", "attempts", "no_next_step", "overdue", "technique", "roll", "moves", "refusals")


def day_start(day: dt.date) -> dt.datetime:
    """Local midnight of ``day`` as an aware datetime (days are the office's, not UTC's)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _day_bounds(scope: Scope):
    return day_start(scope.date_from), day_start(scope.date_to + dt.timedelta(days=1))


def drill_cases(scope: Scope, *, kind: str, params: dict, now: dt.datetime) -> QuerySet[Case]:
    """Cases behind a dashboard figure, limited to what the user may see. ``params`` carries the
    figure's own coordinates (bucket, objective, status, technique...), already validated."""
    cases = Case.objects.filter(case_visibility_q(user=scope.user))
    start, end = _day_bounds(scope)
    # Interactions and promises count for who made them; everything else for the case's agent.
    by_actor = kind in ("attempts", "technique", "promises")
    cases = cases.filter(creditor_id__in=scope.creditor_ids) if scope.creditor_ids is not None else cases
    if not by_actor:
        cases = cases.filter(scope.agent_q("assigned_agent_id", with_creditor=False))
    objective = params.get("objective")
    if kind == "open":
        cases = cases.filter(status__in=CaseStatus.open_values())
        if params.get("bucket"):
            earliest, latest = due_date_range_for_bucket(params["bucket"], scope.today)
            if earliest:
                cases = cases.filter(due_date__gte=earliest)
            if latest:
                cases = cases.filter(due_date__lte=latest)
        if objective:
            cases = cases.filter(objective=objective)
    elif kind == "placed":
        cases = cases.filter(placed_at__gte=scope.date_from, placed_at__lte=scope.date_to)
    elif kind == "collected":
        cases = cases.filter(Exists(Payment.objects.filter(case_id=OuterRef("pk"), received_on__gte=scope.date_from, received_on__lte=scope.date_to)))
    elif kind == "promises":
        promises = PromiseToPay.objects.filter(case_id=OuterRef("pk"), created_at__gte=start, created_at__lt=end)
        promises = promises.filter(scope.agent_q("created_by_id", with_creditor=False))
        if params.get("status"):
            promises = promises.filter(status=params["status"])
        if objective:
            promises = promises.annotate(goal=Coalesce("contact_attempt__objective", "case__objective")).filter(goal=objective)
        cases = cases.filter(Exists(promises))
    elif kind in ("attempts", "technique"):
        attempts = ContactAttempt.objects.filter(case_id=OuterRef("pk"), occurred_at__gte=start, occurred_at__lt=end)
        attempts = attempts.filter(scope.agent_q("agent_id", with_creditor=False))
        if params.get("right_party"):
            attempts = attempts.filter(outcome__in=Outcome.conversation_values())
        if objective:
            attempts = attempts.filter(objective=objective)
        if kind == "technique":
            attempts = attempts.filter(techniques=params["technique"])
            if params.get("excuse"):
                attempts = attempts.filter(excuse_category_id=params["excuse"])
        cases = cases.filter(Exists(attempts))
    elif kind in ("no_next_step", "overdue"):
        cases = cases.filter(status__in=CaseStatus.workable_values())
        if kind == "no_next_step":
            cases = cases.filter(next_action_at__isnull=True).exclude(contact_paused_q("debtor__"))
        else:
            cases = cases.filter(next_action_at__lt=now)
    elif kind == "roll":
        month = params["month"]
        first_end, second_end = month_end(month), min(month_end(add_months(month, 1)), scope.today)
        cases = cases.filter(placed_at__lte=first_end).filter(
            Q(closed_at__isnull=True) | Q(closed_at__gte=day_start(first_end + dt.timedelta(days=1)))
        )
        earliest, latest = due_date_range_for_bucket(params["bucket"], first_end)
        cases = cases.filter(**({"due_date__gte": earliest} if earliest else {}), **({"due_date__lte": latest} if latest else {}))
        closed_q = Q(closed_at__isnull=False, closed_at__lt=day_start(second_end + dt.timedelta(days=1)))
        if params.get("to") == CLOSED:
            cases = cases.filter(closed_q)
        elif params.get("to"):
            earliest, latest = due_date_range_for_bucket(params["to"], second_end)
            cases = cases.exclude(closed_q).filter(**({"due_date__gte": earliest} if earliest else {}), **({"due_date__lte": latest} if latest else {}))
    elif kind == "moves":
        changes = AuditLog.objects.filter(object_type="cases.case", at__gte=start, at__lt=end, before__objective=params["from"], after__objective=params["to"])
        cases = cases.filter(pk__in=changes.values("case_id"))
    elif kind == "refusals":
        refusals = ContactRefusal.objects.filter(case_id=OuterRef("pk"), at__gte=start, at__lt=end)
        if params.get("reason"):
            refusals = refusals.filter(reason=params["reason"])
        cases = cases.filter(Exists(refusals))
    return cases.select_related("debtor", "creditor", "assigned_agent").order_by("-balance", "pk")


def drill_case_ids(*, scope: Scope, kind: str, params: dict, now: dt.datetime, limit: int) -> list[int]:
    """The ids of the first ``limit`` cases behind a figure (a bulk action's selection)."""
    return list(drill_cases(scope, kind=kind, params=params, now=now).values_list("pk", flat=True)[:limit])


def drill_cases_for_export(*, scope: Scope, kind: str, params: dict, now: dt.datetime, limit: int) -> QuerySet[Case]:
    """The first ``limit`` cases behind a figure (an export)."""
    return drill_cases(scope, kind=kind, params=params, now=now)[:limit]
