"""Rebuild of the pre-aggregated dashboard facts from the operational tables.

Idempotent by construction: each step deletes the rows of the keys it covers (a day or month,
and a set of agents) and inserts them again inside one transaction, so a second run, a run that
repeats keys, or a full rebuild give the same rows. The periodic run is incremental: it finds
the keys that changed since the previous run from id watermarks on the operational tables (new
rows) and on the audit trail (changed rows: a promise kept, a case reassigned or closed), so it
costs what changed, not the history. Outcomes of past interactions still change (a promise made
yesterday may be kept next week): those events name the case, and the interactions in its
effect window are redone.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case as SqlCase
from django.db.models import CharField, Count, DecimalField, Exists, F, Max, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from cases.choices import AGING_BUCKETS, CaseStatus, Outcome, PromiseStatus
from cases.models import Case, Payment, PaymentPlan, PromiseToPay
from collections_crm.audit.models import AuditLog
from collections_crm.core import parallel
from collections_crm.core.dates import add_months, month_end, month_start, months_between
from collections_crm.selfservice.models import Checkout, PortalLink
from contacts.models import ContactAttempt, ContactRefusal
from debtors.models import contact_paused_q

from ..metrics import CLOSED, days_between, due_date_range_for_bucket
from ..models import (
    AttemptDaily,
    ChannelDaily,
    DailyRollup,
    MoneyDaily,
    ObjectiveMoveDaily,
    PortalLinkDaily,
    PortfolioSnapshot,
    PromiseDaily,
    RebuildState,
    RefusalDaily,
    RollMonthly,
    TechniqueDaily,
)
from ..rollups import rollups_rebuild
from ..selectors import day_start

logger = logging.getLogger(__name__)

STATE_NAME = "dashboard"
# A set of agent ids (``None`` in it: rows without an agent), or ``None``: every agent.
Agents = frozenset | set | None
MONEY_FIELD = DecimalField(max_digits=16, decimal_places=2)
ZERO = Decimal("0.00")


def effect_window_days() -> int:
    return getattr(settings, "REPORTS_EFFECT_WINDOW_DAYS", 14)


def bucket_expression(field: str, on: dt.date) -> SqlCase:
    """SQL that names the aging bucket of ``field`` (a due date) on day ``on``."""
    whens = []
    for code, _low, _high in AGING_BUCKETS:
        earliest, latest = due_date_range_for_bucket(code, on)
        condition = Q()
        if earliest is not None:
            condition &= Q(**{f"{field}__gte": earliest})
        if latest is not None:
            condition &= Q(**{f"{field}__lte": latest})
        whens.append(When(condition, then=Value(code)))
    return SqlCase(*whens, default=Value(AGING_BUCKETS[-1][0]), output_field=CharField())


def _outcome_annotations(*, case_ref: str, at_ref: str, day: dt.date) -> dict:
    """What followed an interaction on day ``day`` within the effect window (to the end of day
    ``day + N``): a promise made after it, one of those later kept, a payment received."""
    window_end = day_start(day + dt.timedelta(days=effect_window_days() + 1))
    promises = PromiseToPay.objects.filter(case_id=OuterRef(case_ref), created_at__gte=OuterRef(at_ref), created_at__lt=window_end)
    payments = Payment.objects.filter(
        case_id=OuterRef(case_ref), received_on__gte=day, received_on__lte=day + dt.timedelta(days=effect_window_days())
    )
    return {
        "f_promise": Exists(promises),
        "f_kept": Exists(promises.filter(status=PromiseStatus.KEPT)),
        "f_money": Exists(payments),
    }


def agents_q(field: str, agents: Agents) -> Q:
    """Rows whose ``field`` (an agent id) is one of ``agents`` (``None`` in the set: no agent).
    ``agents=None`` means every agent."""
    if agents is None:
        return Q()
    q = Q(**{f"{field}__in": sorted(a for a in agents if a is not None)})
    if None in agents:
        q |= Q(**{f"{field}__isnull": True})
    return q


def _replace(model, period: Q, agents: Agents, facts: list) -> None:
    """Delete the facts of ``period`` and ``agents`` and insert the recomputed ones."""
    model.objects.filter(period, agents_q("agent_id", agents)).delete()
    model.objects.bulk_create(facts, batch_size=2000)


def _rebuild_attempts(day: dt.date, agents: Agents = None) -> None:
    start, end = day_start(day), day_start(day + dt.timedelta(days=1))
    rows = (
        ContactAttempt.objects.filter(agents_q("agent_id", agents), occurred_at__gte=start, occurred_at__lt=end)
        .annotate(**_outcome_annotations(case_ref="case_id", at_ref="occurred_at", day=day))
        .values("agent_id", "case__creditor_id", "objective")
        .annotate(
            n=Count("id"),
            rpc=Count("id", filter=Q(outcome__in=Outcome.conversation_values())),
            p=Count("id", filter=Q(f_promise=True)),
            k=Count("id", filter=Q(f_kept=True)),
            m=Count("id", filter=Q(f_money=True)),
        )
        .order_by()
    )
    facts = [
        AttemptDaily(
            day=day, agent_id=r["agent_id"], creditor_id=r["case__creditor_id"], objective=r["objective"],
            attempts=r["n"], right_party=r["rpc"], led_promise=r["p"], led_kept=r["k"], led_money=r["m"],
        )
        for r in rows
    ]
    _replace(AttemptDaily, Q(day=day), agents, facts)


def _rebuild_techniques(day: dt.date, agents: Agents = None) -> None:
    start, end = day_start(day), day_start(day + dt.timedelta(days=1))
    through = ContactAttempt.techniques.through
    rows = (
        through.objects.filter(
            agents_q("contactattempt__agent_id", agents), contactattempt__occurred_at__gte=start, contactattempt__occurred_at__lt=end
        )
        .annotate(**_outcome_annotations(case_ref="contactattempt__case_id", at_ref="contactattempt__occurred_at", day=day))
        .values(
            "technique_id", "contactattempt__agent_id", "contactattempt__case__creditor_id",
            "contactattempt__objective", "contactattempt__excuse_category_id",
        )
        .annotate(
            n=Count("id"),
            cases=Count("contactattempt__case_id", distinct=True),
            p=Count("id", filter=Q(f_promise=True)),
            k=Count("id", filter=Q(f_kept=True)),
            m=Count("id", filter=Q(f_money=True)),
        )
        .order_by()
    )
    facts = [
        TechniqueDaily(
            day=day, technique_id=r["technique_id"], agent_id=r["contactattempt__agent_id"],
            creditor_id=r["contactattempt__case__creditor_id"], objective=r["contactattempt__objective"],
            excuse_category_id=r["contactattempt__excuse_category_id"], interactions=r["n"], case_days=r["cases"],
            led_promise=r["p"], led_kept=r["k"], led_money=r["m"],
        )
        for r in rows
    ]
    _replace(TechniqueDaily, Q(day=day), agents, facts)


def _rebuild_money(first: dt.date, last: dt.date, agents: Agents = None) -> None:
    merged: dict[tuple, dict] = defaultdict(lambda: {"placed_cases": 0, "placed_amount": ZERO, "payments": 0, "collected": ZERO})
    placed = (
        Case.objects.filter(agents_q("assigned_agent_id", agents), placed_at__gte=first, placed_at__lte=last)
        .values("placed_at", "assigned_agent_id", "creditor_id")
        .annotate(n=Count("id"), amount=Sum(F("original_amount") + F("fees"), output_field=MONEY_FIELD))
        .order_by()
    )
    for r in placed:
        fact = merged[(r["placed_at"], r["assigned_agent_id"], r["creditor_id"])]
        fact["placed_cases"], fact["placed_amount"] = r["n"], r["amount"]
    paid = (
        Payment.objects.filter(agents_q("case__assigned_agent_id", agents), received_on__gte=first, received_on__lte=last)
        .values("received_on", "case__assigned_agent_id", "case__creditor_id")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by()
    )
    for r in paid:
        fact = merged[(r["received_on"], r["case__assigned_agent_id"], r["case__creditor_id"])]
        fact["payments"], fact["collected"] = r["n"], r["amount"]
    facts = [MoneyDaily(day=day, agent_id=agent, creditor_id=creditor, **values) for (day, agent, creditor), values in merged.items()]
    _replace(MoneyDaily, Q(day__gte=first, day__lte=last), agents, facts)


def _rebuild_promises(first: dt.date, last: dt.date, agents: Agents = None) -> None:
    rows = (
        PromiseToPay.objects.filter(agents_q("created_by_id", agents), created_at__gte=day_start(first), created_at__lt=day_start(last + dt.timedelta(days=1)))
        .annotate(day=TruncDate("created_at"), goal=Coalesce("contact_attempt__objective", "case__objective"))
        .values("day", "created_by_id", "case__creditor_id", "goal", "status")
        .annotate(n=Count("id"), amount=Sum("amount"), paid=Sum("amount_paid"))
        .order_by()
    )
    facts = [
        PromiseDaily(
            day=r["day"], agent_id=r["created_by_id"], creditor_id=r["case__creditor_id"], objective=r["goal"],
            status=r["status"], promises=r["n"], amount=r["amount"], amount_paid=r["paid"],
        )
        for r in rows
    ]
    _replace(PromiseDaily, Q(day__gte=first, day__lte=last), agents, facts)


def _rebuild_objective_moves(first: dt.date, last: dt.date, agents: Agents = None) -> None:
    """Objective changes are in the audit trail (every service writes the before/after)."""
    rows = list(
        AuditLog.objects.filter(
            object_type="cases.case", at__gte=day_start(first), at__lt=day_start(last + dt.timedelta(days=1)),
            before__has_key="objective", after__has_key="objective",
        )
        .annotate(day=TruncDate("at"), src=KT("before__objective"), dst=KT("after__objective"))
        .values_list("day", "case_id", "src", "dst")
    )
    owners = dict(
        (pk, (agent, creditor))
        for pk, agent, creditor in Case.objects.filter(agents_q("assigned_agent_id", agents), pk__in={r[1] for r in rows}).values_list("pk", "assigned_agent_id", "creditor_id")
    )
    counts: dict[tuple, int] = defaultdict(int)
    for day, case_id, src, dst in rows:
        if case_id in owners and src != dst:
            counts[(day, *owners[case_id], src, dst)] += 1
    facts = [
        ObjectiveMoveDaily(day=day, agent_id=agent, creditor_id=creditor, from_objective=src, to_objective=dst, moves=n)
        for (day, agent, creditor, src, dst), n in counts.items()
    ]
    _replace(ObjectiveMoveDaily, Q(day__gte=first, day__lte=last), agents, facts)


def _rebuild_refusals(first: dt.date, last: dt.date, agents: Agents = None) -> None:
    rows = (
        ContactRefusal.objects.filter(agents_q("case__assigned_agent_id", agents), at__gte=day_start(first), at__lt=day_start(last + dt.timedelta(days=1)))
        .annotate(day=TruncDate("at"))
        .values("day", "case__assigned_agent_id", "case__creditor_id", "reason", "channel")
        .annotate(n=Count("id"))
        .order_by()
    )
    facts = [
        RefusalDaily(day=r["day"], agent_id=r["case__assigned_agent_id"], creditor_id=r["case__creditor_id"],
                     reason=r["reason"], channel=r["channel"], refusals=r["n"])
        for r in rows
    ]
    _replace(RefusalDaily, Q(day__gte=first, day__lte=last), agents, facts)


NO_CHANNEL = "none"
# The portal's audit rows that make a link "converted" once it was opened.
PORTAL_CONVERSIONS = ("portal.checkout_paid", "portal.promise", "portal.plan")


def _last_channel(*, case_ref: str, until, since: dt.datetime) -> Coalesce:
    """The channel of the case's latest contact at or before ``until`` (an expression or a time)
    and not before ``since``: what an event on the case is credited to."""
    latest = (ContactAttempt.objects.filter(case_id=OuterRef(case_ref), occurred_at__lte=until, occurred_at__gte=since)
              .order_by("-occurred_at", "-id").values("channel")[:1])
    return Coalesce(Subquery(latest, output_field=CharField()), Value(NO_CHANNEL), output_field=CharField())


def _rebuild_channels_day(day: dt.date) -> list[ChannelDaily]:
    since, end = day_start(day - dt.timedelta(days=effect_window_days())), day_start(day + dt.timedelta(days=1))
    merged: dict[tuple, dict] = defaultdict(lambda: {"payments": 0, "collected": ZERO, "promises": 0, "promised": ZERO, "plans": 0})
    online = Checkout.objects.filter(payment_id=OuterRef("pk"))
    paid = (
        Payment.objects.filter(received_on=day)
        .annotate(ch=SqlCase(When(Exists(online), then=Value("portal")),
                             default=_last_channel(case_ref="case_id", until=end, since=since), output_field=CharField()))
        .values("ch", "case__assigned_agent_id", "case__creditor_id").annotate(n=Count("id"), amount=Sum("amount")).order_by()
    )
    for r in paid:
        fact = merged[(r["ch"], r["case__assigned_agent_id"], r["case__creditor_id"])]
        fact["payments"], fact["collected"] = r["n"], r["amount"]
    promised = (
        PromiseToPay.objects.filter(created_at__gte=day_start(day), created_at__lt=end)
        .annotate(ch=Coalesce("contact_attempt__channel", _last_channel(case_ref="case_id", until=OuterRef("created_at"), since=since),
                              output_field=CharField()))
        .values("ch", "case__assigned_agent_id", "case__creditor_id").annotate(n=Count("id"), amount=Sum("amount")).order_by()
    )
    for r in promised:
        fact = merged[(r["ch"], r["case__assigned_agent_id"], r["case__creditor_id"])]
        fact["promises"], fact["promised"] = r["n"], r["amount"]
    plans = (
        PaymentPlan.objects.filter(created_at__gte=day_start(day), created_at__lt=end)
        .annotate(ch=_last_channel(case_ref="case_id", until=OuterRef("created_at"), since=since))
        .values("ch", "case__assigned_agent_id", "case__creditor_id").annotate(n=Count("id")).order_by()
    )
    for r in plans:
        merged[(r["ch"], r["case__assigned_agent_id"], r["case__creditor_id"])]["plans"] = r["n"]
    return [ChannelDaily(day=day, channel=ch, agent_id=agent, creditor_id=creditor, **values)
            for (ch, agent, creditor), values in merged.items()]


def _rebuild_channels(first: dt.date, last: dt.date) -> None:
    """Whole days (every agent): a day's payments, promises and plans are few, and an event's
    channel depends on the case's contacts, not on who owns it."""
    facts = [fact for day in days_between(first, last) for fact in _rebuild_channels_day(day)]
    _replace(ChannelDaily, Q(day__gte=first, day__lte=last), None, facts)


def _rebuild_portal_links(first: dt.date, last: dt.date) -> None:
    """Links by the day they were given: issued, opened, converted (whole days, every agent)."""
    converted = AuditLog.objects.filter(case_id=OuterRef("case_id"), action__in=PORTAL_CONVERSIONS,
                                        at__gte=OuterRef("first_opened_at"))
    rows = (
        PortalLink.objects.filter(created_at__gte=day_start(first), created_at__lt=day_start(last + dt.timedelta(days=1)))
        .annotate(day=TruncDate("created_at"), conv=Exists(converted))
        .values("day", "source", "case__assigned_agent_id", "case__creditor_id")
        .annotate(n=Count("id"), opened=Count("id", filter=Q(first_opened_at__isnull=False)),
                  conv_n=Count("id", filter=Q(first_opened_at__isnull=False, conv=True)))
        .order_by()
    )
    facts = [
        PortalLinkDaily(day=r["day"], source=r["source"], agent_id=r["case__assigned_agent_id"], creditor_id=r["case__creditor_id"],
                        issued=r["n"], opened=r["opened"], converted=r["conv_n"])
        for r in rows
    ]
    _replace(PortalLinkDaily, Q(day__gte=first, day__lte=last), None, facts)


def _rebuild_snapshot(today: dt.date, now: dt.datetime) -> None:
    rows = (
        Case.objects.filter(status__in=CaseStatus.open_values())
        .annotate(bucket=bucket_expression("due_date", today))
        .values("assigned_agent_id", "creditor_id", "bucket", "objective")
        .annotate(
            n=Count("id"),
            balance_sum=Sum("balance"),
            # A case paused by a debtor flag rightly has none: not a case "without a next step".
            no_step=Count("id", filter=Q(next_action_at__isnull=True, status__in=CaseStatus.workable_values())
                          & ~contact_paused_q("debtor__")),
            late=Count("id", filter=Q(next_action_at__lt=now, status__in=CaseStatus.workable_values())),
        )
        .order_by()
    )
    facts = [
        PortfolioSnapshot(
            as_of=today, agent_id=r["assigned_agent_id"], creditor_id=r["creditor_id"], bucket=r["bucket"],
            objective=r["objective"], cases=r["n"], balance=r["balance_sum"], no_next_step=r["no_step"], overdue=r["late"],
        )
        for r in rows
    ]
    # Only the latest snapshot is kept: history of the stock lives in RollMonthly.
    PortfolioSnapshot.objects.all().delete()
    PortfolioSnapshot.objects.bulk_create(facts, batch_size=2000)


def _rebuild_roll(month: dt.date, today: dt.date, agents: Agents = None) -> None:
    """Where the cases open at the end of ``month`` were one month later (or today, for the
    month in progress). Balance is the balance at the first month end: today's balance plus
    what was received since."""
    first_end = month_end(month)
    second_end = min(month_end(add_months(month, 1)), today)
    received_after = (
        Payment.objects.filter(case_id=OuterRef("pk"), received_on__gt=first_end)
        .values("case_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    closed_by_then = Q(closed_at__isnull=False, closed_at__lt=day_start(second_end + dt.timedelta(days=1)))
    rows = (
        Case.objects.filter(agents_q("assigned_agent_id", agents), placed_at__lte=first_end)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gte=day_start(first_end + dt.timedelta(days=1))))
        .annotate(
            src=bucket_expression("due_date", first_end),
            dst=SqlCase(When(closed_by_then, then=Value(CLOSED)), default=bucket_expression("due_date", second_end)),
            then_balance=F("balance") + Coalesce(Subquery(received_after, output_field=MONEY_FIELD), Value(ZERO), output_field=MONEY_FIELD),
        )
        .values("assigned_agent_id", "creditor_id", "src", "dst")
        .annotate(n=Count("id"), amount=Sum("then_balance"))
        .order_by()
    )
    facts = [
        RollMonthly(
            month=month, agent_id=r["assigned_agent_id"], creditor_id=r["creditor_id"], from_bucket=r["src"],
            to_bucket=r["dst"], cases=r["n"], balance=r["amount"],
        )
        for r in rows
    ]
    _replace(RollMonthly, Q(month=month), agents, facts)


def _earliest_data_day(today: dt.date) -> dt.date:
    candidates = [
        Case.objects.order_by("placed_at").values_list("placed_at", flat=True).first(),
        Payment.objects.order_by("received_on").values_list("received_on", flat=True).first(),
    ]
    first_attempt = ContactAttempt.objects.order_by("occurred_at").values_list("occurred_at", flat=True).first()
    if first_attempt:
        candidates.append(timezone.localdate(first_attempt))
    return min([c for c in candidates if c] or [today])


# --- What changed since the last run ------------------------------------------------------

# Operational tables watched for new rows (by id), and the audit trail for changes to rows.
WATCHED = {"attempt": ContactAttempt, "promise": PromiseToPay, "payment": Payment, "refusal": ContactRefusal, "case": Case, "audit": AuditLog,
           "plan": PaymentPlan, "link": PortalLink}
# Case fields whose change moves a case's roll rates or money (by the case's agent).
CASE_FIGURE_FIELDS = {"assigned_agent_id", "balance", "status", "closed_at", "original_amount", "fees", "due_date", "placed_at", "creditor_id"}
# Rows written this long before the last run started may have committed after it read them.
LATE_COMMIT = dt.timedelta(minutes=5)
# A claim older than this is a crashed run: the next one takes over.
CLAIM_STALE = dt.timedelta(hours=1)


def _max_ids() -> dict[str, int]:
    return {name: model.objects.aggregate(m=Max("id"))["m"] or 0 for name, model in WATCHED.items()}


@dataclass
class Dirty:
    """Keys to recompute: period -> agents (a set of agent ids, ``None`` in it for rows without
    an agent). ``activity``: attempts and techniques by who made them; ``promises``: by who
    recorded them; ``owned``: money, refusals and objective moves by the case's agent;
    ``rolls``: month -> agents."""

    activity: dict[dt.date, set] = field(default_factory=lambda: defaultdict(set))
    promises: dict[dt.date, set] = field(default_factory=lambda: defaultdict(set))
    owned: dict[dt.date, set] = field(default_factory=lambda: defaultdict(set))
    rolls: dict[dt.date, set] = field(default_factory=lambda: defaultdict(set))
    # Whole days of the channel facts (besides the owned and promise days) and of the link facts.
    channels: set[dt.date] = field(default_factory=set)
    links: set[dt.date] = field(default_factory=set)

    def keys(self) -> int:
        return (sum(len(a) if a is not None else 1 for d in (self.activity, self.promises, self.owned, self.rolls) for a in d.values())
                + len(self.channels) + len(self.links))

    def days(self) -> set[dt.date]:
        return set(self.activity) | set(self.promises) | set(self.owned) | self.channels | self.links


def _chunks(values, size: int = 5000):
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]


def _roll_months_from(day: dt.date, today: dt.date) -> list[dt.date]:
    """Roll months (where a move starts) whose figures depend on a case as of ``day``."""
    first, last = add_months(month_start(day), -1), add_months(month_start(today), -1)
    return months_between(first, last) if first <= last else []


# When each watched row was written (close enough: the services stamp "now").
WRITTEN_AT = {"attempt": "created_at", "promise": "created_at", "payment": "created_at", "refusal": "at", "case": "created_at", "audit": "at",
              "plan": "created_at", "link": "created_at"}


def _since_q(marks: dict) -> dict[str, Q]:
    """Rows above each mark, and the recent rows just below it: a transaction that took its id
    before the last run read the table but committed after it is read now (ids are handed out
    in order, not committed in order). Reading a row twice is harmless."""
    overlap = getattr(settings, "REPORTS_REBUILD_ID_OVERLAP", 1000)
    started = dt.datetime.fromisoformat(marks["started"]) if marks.get("started") else None
    result = {}
    for name in WATCHED:
        mark = marks.get(name, 0)
        q = Q(id__gt=mark)
        if started is not None and overlap:
            q |= Q(id__gt=max(0, mark - overlap), **{f"{WRITTEN_AT[name]}__gte": started - LATE_COMMIT})
        result[name] = q
    return result


def changes_since(marks: dict, today: dt.date) -> Dirty:
    """The fact keys that rows inserted (id above the mark) or changed (audit rows above the
    mark) since the last run can have moved. A superset: recomputing a key is idempotent."""
    since = _since_q(marks)
    dirty = Dirty()
    window = dt.timedelta(days=effect_window_days())
    # case id -> local days of events (promises, payments) that change what followed its attempts
    events: dict[int, list[dt.date]] = defaultdict(list)
    # case id -> agents who owned it before a reassignment
    former: dict[int, set] = defaultdict(set)
    # case id -> first day it changed; cases whose roll rates can move; cases moved to another creditor
    case_changes: dict[int, dt.date] = {}
    roll_cases: set[int] = set()
    recredited: set[int] = set()

    for day, agent in (
        ContactAttempt.objects.filter(since["attempt"]).annotate(day=TruncDate("occurred_at"))
        .values_list("day", "agent_id").distinct().order_by()
    ):
        dirty.activity[day].add(agent)

    changed_promises = set(
        int(pk) for pk in AuditLog.objects.filter(since["audit"], object_type="cases.promisetopay").values_list("object_id", flat=True)
    )
    promise_rows = list(
        PromiseToPay.objects.filter(since["promise"]).annotate(day=TruncDate("created_at"))
        .values_list("day", "created_by_id", "case_id")
    )
    for ids in _chunks(changed_promises):
        promise_rows += PromiseToPay.objects.filter(id__in=ids).annotate(day=TruncDate("created_at")).values_list("day", "created_by_id", "case_id")
    for day, agent, case_id in promise_rows:
        dirty.promises[day].add(agent)
        events[case_id].append(day)

    for day, agent, case_id in Payment.objects.filter(since["payment"]).values_list("received_on", "case__assigned_agent_id", "case_id"):
        dirty.owned[day].add(agent)
        events[case_id].append(day)
        for month in _roll_months_from(day, today):
            dirty.rolls[month].add(agent)

    for day, agent in (
        ContactRefusal.objects.filter(since["refusal"]).annotate(day=TruncDate("at"))
        .values_list("day", "case__assigned_agent_id").distinct().order_by()
    ):
        dirty.owned[day].add(agent)

    for case_id, at, before, after in (
        AuditLog.objects.filter(since["audit"], object_type="cases.case", case_id__isnull=False)
        .values_list("case_id", "at", "before", "after")
    ):
        before, after = before or {}, after or {}
        changed = set(after) | set(before)
        day = timezone.localdate(at)
        if "objective" in changed or CASE_FIGURE_FIELDS & changed:
            case_changes[case_id] = min(case_changes.get(case_id, day), day)
        if CASE_FIGURE_FIELDS & changed:
            roll_cases.add(case_id)
        if "assigned_agent_id" in before:
            former[case_id].add(before["assigned_agent_id"])
        if "creditor_id" in changed:
            recredited.add(case_id)
    new_cases = set(Case.objects.filter(since["case"]).values_list("id", flat=True))
    roll_cases |= new_cases

    # Everything owned by a new or changed case, for its agent now and its former agents; the
    # promises on it (a promise without an interaction counts for the case's objective).
    for ids in _chunks(set(case_changes) | new_cases):
        cases = dict(Case.objects.filter(id__in=ids).values_list("id", "assigned_agent_id"))
        placed = dict(Case.objects.filter(id__in=ids).values_list("id", "placed_at"))
        days: dict[int, set] = defaultdict(set)
        for case_id, day in Payment.objects.filter(case_id__in=ids).values_list("case_id", "received_on"):
            days[case_id].add(day)
        for case_id, day in ContactRefusal.objects.filter(case_id__in=ids).annotate(day=TruncDate("at")).values_list("case_id", "day"):
            days[case_id].add(day)
        for case_id, at in AuditLog.objects.filter(case_id__in=ids, object_type="cases.case", after__has_key="objective").values_list("case_id", "at"):
            days[case_id].add(timezone.localdate(at))
        for day, agent in PromiseToPay.objects.filter(case_id__in=ids).annotate(day=TruncDate("created_at")).values_list("day", "created_by_id"):
            dirty.promises[day].add(agent)
        for pk, agent in cases.items():
            agents = {agent} | former[pk]
            for day in {placed[pk]} | days[pk]:
                dirty.owned[day].update(agents)
            if pk in roll_cases:
                for month in _roll_months_from(placed[pk], today):
                    dirty.rolls[month].update(agents)
    # New plans (their channel); new links, and links whose case did something on the portal
    # since (opened, paid, promised, chose a plan), by the day they were given.
    for day in PaymentPlan.objects.filter(since["plan"]).annotate(day=TruncDate("created_at")).values_list("day", flat=True).distinct().order_by():
        dirty.channels.add(day)
    for day in PortalLink.objects.filter(since["link"]).annotate(day=TruncDate("created_at")).values_list("day", flat=True).distinct().order_by():
        dirty.links.add(day)
    portal_cases = set(AuditLog.objects.filter(since["audit"], action__startswith="portal.", case_id__isnull=False)
                       .values_list("case_id", flat=True).distinct().order_by())
    for ids in _chunks(portal_cases):
        dirty.links.update(PortalLink.objects.filter(case_id__in=ids).annotate(day=TruncDate("created_at"))
                           .values_list("day", flat=True).distinct().order_by())
    # Interactions count for the case's creditor.
    for ids in _chunks(recredited):
        for day, agent in ContactAttempt.objects.filter(case_id__in=ids).annotate(day=TruncDate("occurred_at")).values_list("day", "agent_id"):
            dirty.activity[day].add(agent)

    # Attempts whose effect window saw a new or changed promise or payment.
    for ids in _chunks(events):
        spans = {pk: (min(days) - window, max(days)) for pk, days in ((pk, events[pk]) for pk in ids) if days}
        if not spans:
            continue
        low = day_start(min(s[0] for s in spans.values()))
        for case_id, occurred, agent in (
            ContactAttempt.objects.filter(case_id__in=list(spans), occurred_at__gte=low).values_list("case_id", "occurred_at", "agent_id")
        ):
            day = timezone.localdate(occurred)
            first, last = spans[case_id]
            if first <= day <= last:
                dirty.activity[day].add(agent)
    return dirty


# Small tables rewritten in good part at every run (the big daily facts change a few keys and
# are left to autovacuum: vacuuming them scans their whole indexes).
CHURNED_TABLES = (DailyRollup, PortfolioSnapshot, RollMonthly)


def _vacuum() -> None:
    """Every run deletes and inserts rows of the churned tables: on PostgreSQL, clear the dead
    ones and refresh the planner's statistics at once rather than when autovacuum gets to it (the
    dashboard's reads otherwise wade through them). Only outside a transaction (not in tests)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(connection.ops.quote_name(m._meta.db_table) for m in CHURNED_TABLES)}")


def _claim(name: str) -> bool:
    """Take the rebuild for this process: one run at a time (a row claimed in the database, so
    it holds across worker processes and hosts). A claim left by a crashed run goes stale."""
    now = timezone.now()
    RebuildState.objects.get_or_create(name=name)
    claimed = RebuildState.objects.filter(name=name).filter(Q(running_since__isnull=True) | Q(running_since__lt=now - CLAIM_STALE))
    return bool(claimed.update(running_since=now))


def _release(name: str) -> None:
    RebuildState.objects.filter(name=name).update(running_since=None)


@dataclass
class RebuildResult:
    first_day: dt.date | None
    last_day: dt.date
    seconds: float
    mode: str = "full"
    keys: int = 0
    steps: dict = field(default_factory=dict)


class _Timer:
    def __init__(self):
        self.steps: dict[str, float] = defaultdict(float)

    def __call__(self, name: str):
        timer = self

        class _Step:
            def __enter__(self):
                self.start = time.monotonic()

            def __exit__(self, *exc):
                timer.steps[name] += time.monotonic() - self.start

        return _Step()


def _full_day(day: dt.date) -> dict[str, float]:
    """Interaction and technique facts of one day, in one transaction; returns step timings."""
    timer = _Timer()
    with transaction.atomic():
        with timer("attempts"):
            _rebuild_attempts(day)
        with timer("techniques"):
            _rebuild_techniques(day)
    return timer.steps


def _full(first: dt.date, today: dt.date, now: dt.datetime, timer: _Timer, workers: int = 1) -> None:
    days = list(days_between(first, today))
    # The days are independent and hold most of the work: split over processes when asked.
    per_day = parallel.map_in_processes(_full_day, days, workers=workers) if parallel.can_fork(workers) else map(_full_day, days)
    for steps in per_day:
        for name, seconds in steps.items():
            timer.steps[name] += seconds
    with transaction.atomic():
        with timer("money"):
            _rebuild_money(first, today)
        with timer("promises"):
            _rebuild_promises(first, today)
        with timer("objective moves"):
            _rebuild_objective_moves(first, today)
        with timer("refusals"):
            _rebuild_refusals(first, today)
        with timer("channels"):
            _rebuild_channels(first, today)
        with timer("portal links"):
            _rebuild_portal_links(first, today)
        with timer("snapshot"):
            _rebuild_snapshot(today, now)
    # A month's roll needs the end of the following month, so start one month earlier.
    for month in months_between(add_months(first, -1), add_months(today, -1)):
        with transaction.atomic(), timer("rolls"):
            _rebuild_roll(month, today)
    with transaction.atomic(), timer("rollups"):
        rollups_rebuild(None)


def _incremental(dirty: Dirty, today: dt.date, now: dt.datetime, timer: _Timer) -> None:
    for day in sorted(dirty.activity):
        with transaction.atomic():
            with timer("attempts"):
                _rebuild_attempts(day, dirty.activity[day])
            with timer("techniques"):
                _rebuild_techniques(day, dirty.activity[day])
    for day in sorted(dirty.promises):
        with transaction.atomic(), timer("promises"):
            _rebuild_promises(day, day, dirty.promises[day])
    for day in sorted(dirty.owned):
        with transaction.atomic():
            with timer("money"):
                _rebuild_money(day, day, dirty.owned[day])
            with timer("objective moves"):
                _rebuild_objective_moves(day, day, dirty.owned[day])
            with timer("refusals"):
                _rebuild_refusals(day, day, dirty.owned[day])
    for day in sorted(set(dirty.owned) | set(dirty.promises) | dirty.channels):
        with transaction.atomic(), timer("channels"):
            _rebuild_channels(day, day)
    for day in sorted(dirty.links):
        with transaction.atomic(), timer("portal links"):
            _rebuild_portal_links(day, day)
    for month in sorted(dirty.rolls):
        with transaction.atomic(), timer("rolls"):
            _rebuild_roll(month, today, dirty.rolls[month])
    with transaction.atomic(), timer("rollups"):
        # Each fact table's company-wide sums, for the days its facts were recomputed.
        rollups_rebuild(dirty.activity, AttemptDaily)
        rollups_rebuild(dirty.activity, TechniqueDaily)
        rollups_rebuild(dirty.promises, PromiseDaily)
        rollups_rebuild(dirty.owned, MoneyDaily)
    # The stock as of now (ageing moves with the calendar, overdue with the clock).
    with transaction.atomic(), timer("snapshot"):
        _rebuild_snapshot(today, now)


def facts_rebuild(*, now: dt.datetime | None = None, full: bool = False, workers: int = 1) -> RebuildResult | None:
    """Bring every fact table up to date; ``None`` when another run holds the claim.

    The periodic run is incremental: it recomputes only the keys (day or month, and agent) that
    rows inserted or changed since its last run can have moved, found from id watermarks on the
    operational tables and on the audit trail. A run after downtime catches up the same way.
    ``full`` (and the first run) recompute every day since the earliest data, its days split
    over ``workers`` processes (PostgreSQL)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if not _claim(STATE_NAME):
        logger.info("dashboard facts: another run is in progress, skipped")
        return None
    try:
        started = time.monotonic()
        state = RebuildState.objects.get(name=STATE_NAME)
        # Taken before reading: rows written during this run are read again by the next one.
        marks = {**_max_ids(), "started": timezone.now().isoformat()}
        timer = _Timer()
        if full or state.built_through is None or not state.marks:
            first = min(_earliest_data_day(today), today)
            _full(first, today, now, timer, workers)
            mode, keys = "full", 0
        else:
            with timer("changes"):
                dirty = changes_since(state.marks, today)
            if state.built_through < today:
                # Calendar days passed: the months whose roll ends "today" move for everyone.
                for month in months_between(add_months(month_start(state.built_through), -1), add_months(month_start(today), -1)):
                    dirty.rolls[month] = None
            _incremental(dirty, today, now, timer)
            first = min(dirty.days() | {state.built_through})
            mode, keys = "incremental", dirty.keys()
        with timer("vacuum"):
            _vacuum()
        seconds = round(time.monotonic() - started, 3)
        steps = {k: round(v, 3) for k, v in timer.steps.items()}
        RebuildState.objects.filter(pk=state.pk).update(
            built_through=today, finished_at=timezone.now(), seconds=seconds, marks=marks, mode=mode, steps=steps,
        )
        logger.info("dashboard facts %s rebuild: %d keys in %.1fs %s", mode, keys, seconds, steps)
        return RebuildResult(first, today, seconds, mode, keys, steps)
    finally:
        _release(STATE_NAME)
