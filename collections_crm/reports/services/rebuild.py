"""Rebuild of the pre-aggregated dashboard facts from the operational tables.

Idempotent by construction: each step deletes the rows of the days (or months, or snapshot
date) it covers and inserts them again inside one transaction, so a second run, a run that
overlaps the previous one, or a full rebuild give the same rows. Recent days are always redone
(``REPORTS_REBUILD_LOOKBACK_DAYS``) because their outcomes still change: a promise made
yesterday may be kept next week, a payment may arrive within the effect window.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Case as SqlCase
from django.db.models import CharField, Count, DecimalField, Exists, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from cases.choices import AGING_BUCKETS, CaseStatus, Outcome, PromiseStatus
from cases.models import Case, Payment, PromiseToPay
from collections_crm.audit.models import AuditLog
from contacts.models import ContactAttempt, ContactRefusal

from ..metrics import CLOSED, add_months, days_between, due_date_range_for_bucket, month_end, months_between
from ..models import (
    AttemptDaily,
    MoneyDaily,
    ObjectiveMoveDaily,
    PortfolioSnapshot,
    PromiseDaily,
    RebuildState,
    RefusalDaily,
    RollMonthly,
    TechniqueDaily,
)
from ..selectors import day_start

logger = logging.getLogger(__name__)

STATE_NAME = "dashboard"
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


def _rebuild_attempts(day: dt.date) -> None:
    start, end = day_start(day), day_start(day + dt.timedelta(days=1))
    rows = (
        ContactAttempt.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
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
    AttemptDaily.objects.filter(day=day).delete()
    AttemptDaily.objects.bulk_create(facts, batch_size=2000)


def _rebuild_techniques(day: dt.date) -> None:
    start, end = day_start(day), day_start(day + dt.timedelta(days=1))
    through = ContactAttempt.techniques.through
    rows = (
        through.objects.filter(contactattempt__occurred_at__gte=start, contactattempt__occurred_at__lt=end)
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
    TechniqueDaily.objects.filter(day=day).delete()
    TechniqueDaily.objects.bulk_create(facts, batch_size=2000)


def _rebuild_money(first: dt.date, last: dt.date) -> None:
    merged: dict[tuple, dict] = defaultdict(lambda: {"placed_cases": 0, "placed_amount": ZERO, "payments": 0, "collected": ZERO})
    placed = (
        Case.objects.filter(placed_at__gte=first, placed_at__lte=last)
        .values("placed_at", "assigned_agent_id", "creditor_id")
        .annotate(n=Count("id"), amount=Sum(F("original_amount") + F("fees"), output_field=MONEY_FIELD))
        .order_by()
    )
    for r in placed:
        fact = merged[(r["placed_at"], r["assigned_agent_id"], r["creditor_id"])]
        fact["placed_cases"], fact["placed_amount"] = r["n"], r["amount"]
    paid = (
        Payment.objects.filter(received_on__gte=first, received_on__lte=last)
        .values("received_on", "case__assigned_agent_id", "case__creditor_id")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by()
    )
    for r in paid:
        fact = merged[(r["received_on"], r["case__assigned_agent_id"], r["case__creditor_id"])]
        fact["payments"], fact["collected"] = r["n"], r["amount"]
    facts = [MoneyDaily(day=day, agent_id=agent, creditor_id=creditor, **values) for (day, agent, creditor), values in merged.items()]
    MoneyDaily.objects.filter(day__gte=first, day__lte=last).delete()
    MoneyDaily.objects.bulk_create(facts, batch_size=2000)


def _rebuild_promises(first: dt.date, last: dt.date) -> None:
    rows = (
        PromiseToPay.objects.filter(created_at__gte=day_start(first), created_at__lt=day_start(last + dt.timedelta(days=1)))
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
    PromiseDaily.objects.filter(day__gte=first, day__lte=last).delete()
    PromiseDaily.objects.bulk_create(facts, batch_size=2000)


def _rebuild_objective_moves(first: dt.date, last: dt.date) -> None:
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
        for pk, agent, creditor in Case.objects.filter(pk__in={r[1] for r in rows}).values_list("pk", "assigned_agent_id", "creditor_id")
    )
    counts: dict[tuple, int] = defaultdict(int)
    for day, case_id, src, dst in rows:
        if case_id in owners and src != dst:
            counts[(day, *owners[case_id], src, dst)] += 1
    facts = [
        ObjectiveMoveDaily(day=day, agent_id=agent, creditor_id=creditor, from_objective=src, to_objective=dst, moves=n)
        for (day, agent, creditor, src, dst), n in counts.items()
    ]
    ObjectiveMoveDaily.objects.filter(day__gte=first, day__lte=last).delete()
    ObjectiveMoveDaily.objects.bulk_create(facts, batch_size=2000)


def _rebuild_refusals(first: dt.date, last: dt.date) -> None:
    rows = (
        ContactRefusal.objects.filter(at__gte=day_start(first), at__lt=day_start(last + dt.timedelta(days=1)))
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
    RefusalDaily.objects.filter(day__gte=first, day__lte=last).delete()
    RefusalDaily.objects.bulk_create(facts, batch_size=2000)


def _rebuild_snapshot(today: dt.date, now: dt.datetime) -> None:
    rows = (
        Case.objects.filter(status__in=CaseStatus.open_values())
        .annotate(bucket=bucket_expression("due_date", today))
        .values("assigned_agent_id", "creditor_id", "bucket", "objective")
        .annotate(
            n=Count("id"),
            balance_sum=Sum("balance"),
            no_step=Count("id", filter=Q(next_action_at__isnull=True, status__in=CaseStatus.workable_values())),
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


def _rebuild_roll(month: dt.date, today: dt.date) -> None:
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
        Case.objects.filter(placed_at__lte=first_end)
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
    RollMonthly.objects.filter(month=month).delete()
    RollMonthly.objects.bulk_create(facts, batch_size=2000)


def _earliest_data_day(today: dt.date) -> dt.date:
    candidates = [
        Case.objects.order_by("placed_at").values_list("placed_at", flat=True).first(),
        Payment.objects.order_by("received_on").values_list("received_on", flat=True).first(),
    ]
    first_attempt = ContactAttempt.objects.order_by("occurred_at").values_list("occurred_at", flat=True).first()
    if first_attempt:
        candidates.append(timezone.localdate(first_attempt))
    return min([c for c in candidates if c] or [today])


@dataclass
class RebuildResult:
    first_day: dt.date
    last_day: dt.date
    seconds: float


def facts_rebuild(*, now: dt.datetime | None = None, full: bool = False) -> RebuildResult:
    """Bring every fact table up to date. Without ``full`` it redoes the lookback window and
    catches up any days missed since the last successful run."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    started = time.monotonic()
    state, _created = RebuildState.objects.get_or_create(name=STATE_NAME)
    lookback = today - dt.timedelta(days=getattr(settings, "REPORTS_REBUILD_LOOKBACK_DAYS", 45))
    if full or state.built_through is None:
        first = _earliest_data_day(today)
    else:
        first = min(lookback, state.built_through + dt.timedelta(days=1))
    first = min(first, today)
    for day in days_between(first, today):
        with transaction.atomic():
            _rebuild_attempts(day)
            _rebuild_techniques(day)
    with transaction.atomic():
        _rebuild_money(first, today)
        _rebuild_promises(first, today)
        _rebuild_objective_moves(first, today)
        _rebuild_refusals(first, today)
        _rebuild_snapshot(today, now)
    # A month's roll needs the end of the following month, so start one month earlier.
    for month in months_between(add_months(first, -1), add_months(today, -1)):
        with transaction.atomic():
            _rebuild_roll(month, today)
    seconds = round(time.monotonic() - started, 3)
    RebuildState.objects.filter(pk=state.pk).update(built_through=today, finished_at=timezone.now(), seconds=seconds)
    logger.info("dashboard facts rebuilt: %d days in %.1fs", (today - first).days + 1, seconds)
    return RebuildResult(first, today, seconds)
