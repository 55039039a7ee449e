"""Reads for the agent desk: the case page's contact picture, preparation panel and timeline.
They combine the case layer's records with the engine's (contact attempts, the contact policy),
which is why they live here and not in cases.selectors."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from functools import reduce
from operator import or_
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.utils.translation import gettext_lazy as _

from cases.choices import BarrierStatus, PlanStatus, PromiseStatus
from cases.models import Barrier, Case, Payment, PaymentPlan, PromiseToPay
from collections_crm.accounts.models import User
from collections_crm.audit.models import AuditLog
from contacts.models import ContactAttempt, OutboundMessage
from contacts.selectors import contact_status_for_cases, playbook_for
from debtors.models import ContactPoint, Debtor

from .preparation import talking_points
from .timeline import (
    ATTEMPT,
    AUDIT,
    BARRIER,
    BARRIER_REMOVED,
    FOLDED,
    MESSAGE,
    PAYMENT,
    PLAN,
    PROMISE,
    PROMISE_OUTCOME,
    ROW_ACTIONS,
    TOLD_BY_ROWS,
    timeline_entries,
)

# The contact-policy engine's reason codes (contacts.engine.policy), as the agent reads them.
POLICY_REASONS = {
    "case_closed": _("Case closed"),
    "case_paused": _("Collection paused (dispute or on hold)"),
    "cease_communication": _("Asked us to stop communicating"),
    "do_not_contact": _("Do not contact"),
    "attorney_represented": _("Represented by an attorney"),
    "deceased": _("Deceased"),
    "bankruptcy": _("In bankruptcy"),
    "point_opted_out": _("Opted out"),
    "point_do_not_contact": _("This number must not be used"),
    "point_unusable": _("Not a valid number or address"),
    "no_consent": _("No consent for this channel"),
    "outside_hours": _("Outside contact hours"),
    "weekday_not_allowed": _("Not on this day of the week"),
    "holiday": _("Public holiday"),
    "weekly_call_cap": _("Weekly call limit reached"),
    "conversation_pause": _("Pause after a recent conversation"),
    "daily_cap": _("Daily contact limit reached"),
    "preferred_time": _("Outside the time of day the debtor asked to be called"),
}


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def case_contact_statuses(*, cases: list[Case], now: dt.datetime) -> dict[int, dict]:
    """For each case: the debtor's local time and the contact-policy engine's answer for a phone
    call now (callable, why not, next allowed moment, calls left this week). A fixed number of
    queries whatever the number of cases (contacts.selectors.contact_status_for_cases)."""
    statuses = contact_status_for_cases(cases=cases, now=now, channel="phone")
    result = {}
    for case in cases:
        status = statuses[case.pk]
        zone = _zone(case.debtor.timezone)
        result[case.pk] = {
            "local_time": now.astimezone(zone),
            "zone": zone.key if hasattr(zone, "key") else "UTC",
            "callable": status.callable_now,
            "reason": POLICY_REASONS.get(status.reason, status.reason),
            "next_allowed_at": status.next_allowed_at.astimezone(zone) if status.next_allowed_at else None,
            "calls_left": status.calls_left_week,
        }
    return result


def debtor_zones(*, debtor: Debtor, now: dt.datetime) -> dict:
    """Where the debtor may be, as the case page shows it: their zone and whether a person
    confirmed it, or every candidate zone the contact hours must hold in, each with its local
    time now (no query: the candidates are on the debtor's row)."""
    zones = debtor.candidate_zones
    return {
        "zone": debtor.timezone,
        "confirmed": debtor.timezone_confirmed,
        "uncertain": len(zones) > 1,
        "local_times": [(name, now.astimezone(_zone(name))) for name in zones],
    }


def contact_point_reasons(*, point: ContactPoint) -> list:
    """Why one contact point may not be used, on top of the debtor's own stops."""
    reasons = []
    if point.unusable_reason:
        reasons.append(point.unusable_reason)
    if point.do_not_contact:
        reasons.append(_("Do not contact"))
    if point.opted_out:
        reasons.append(_("Opted out"))
    return reasons


# --- The case page ----------------------------------------------------------------------------

def case_contact_points(*, case: Case) -> list[ContactPoint]:
    points = list(case.debtor.contact_points.all())
    for point in points:
        point.stop_reasons = contact_point_reasons(point=point)  # type: ignore[attr-defined]  # for the template
    return points


def case_preparation(*, case: Case, today: dt.date, language: str = "es", recent: int = 5) -> dict:
    """Seed 004, "leave nothing to chance": what the agent should know before calling, with the
    admins' playbook for the case's objective and the debtor's last excuse, in ``language``."""
    attempts = ContactAttempt.objects.filter(case=case).select_related("excuse_category").order_by("-occurred_at", "-id")
    statements = list(attempts.filter(Q(excuse_category__isnull=False) | ~Q(statement_kind=""))[:recent])
    with_techniques = list(attempts.filter(techniques__isnull=False).distinct().prefetch_related("techniques")[:recent])
    promise_counts = PromiseToPay.objects.filter(case=case).aggregate(
        made=Count("id"),
        kept=Count("id", filter=Q(status=PromiseStatus.KEPT)),
        broken=Count("id", filter=Q(status=PromiseStatus.BROKEN)),
        pending=Count("id", filter=Q(status=PromiseStatus.PENDING)),
    )
    promises = list(PromiseToPay.objects.filter(case=case).order_by("-due_date", "-id")[:recent])
    barriers = list(Barrier.objects.filter(case=case, status=BarrierStatus.OPEN).order_by("opened_at"))
    plan = (
        PaymentPlan.objects.filter(case=case, status__in=[PlanStatus.PROPOSED, PlanStatus.ACTIVE])
        .prefetch_related("instalments").first()
    )
    points = talking_points(
        objective=case.objective,
        currency=case.currency,
        broken_promises=[p for p in promises if p.status == PromiseStatus.BROKEN],
        pending_promise=next((p for p in promises if p.status == PromiseStatus.PENDING), None),
        open_barriers=barriers,
        last_statement=statements[0] if statements else None,
        plan=plan,
        today=today,
    )
    last_excuse = next((a.excuse_category_id for a in statements if a.excuse_category_id), None)
    playbook = playbook_for(objective=case.objective, language=language, excuse_category_id=last_excuse)
    return {
        "playbook": playbook,
        "playbook_points": [line.strip(" -•\t") for line in playbook.talking_points.splitlines() if line.strip(" -•\t")] if playbook else [],
        "statements": statements,
        "techniques": with_techniques,
        "promise_counts": promise_counts,
        "promises": promises,
        "barriers": barriers,
        "plan": plan,
        "talking_points": points,
    }


# --- The timeline -----------------------------------------------------------------------------
#
# A case's history lives in its domain tables (contact attempts, the outbox, promises, payments,
# plans, barriers) however the rows were written: by a service, by the importer or by the demo's
# bulk inserts, which write no audit rows. The audit log adds what has no row of its own
# (assignments, objective changes, pauses, edits, imports, follow-ups, a plan agreed or
# cancelled). The timeline merges both, one line per event: an audit row that tells an event a
# domain row already tells (timeline.TOLD_BY_ROWS) is left out, and the case rows a service
# writes beside its entity (timeline.FOLDED) are shown as that entry's changes.
#
# A page is a fixed number of queries whatever the history: the count and the page of a UNION ALL
# of (source, id, at) across the sources (each branch served by an index on (case_id, at)), then
# one query per source present on the page, one for the audit rows that belong to the page's
# entries and one for the agents named by assignments.

RESOLVED_PROMISE = (PromiseStatus.KEPT, PromiseStatus.PARTIAL, PromiseStatus.BROKEN)

# What the filter offers: its label, the domain sources it shows and the audit rows it shows.
TIMELINE_KINDS: dict[str, tuple[Any, frozenset[int], Q | None]] = {
    "contact": (_("Contacts"), frozenset({ATTEMPT}), None),
    "message": (_("Messages"), frozenset({MESSAGE}), Q(action__startswith="message.")),
    "promise": (_("Promises"), frozenset({PROMISE, PROMISE_OUTCOME}), Q(object_type="cases.promisetopay")),
    "payment": (_("Payments"), frozenset({PAYMENT}), Q(object_type__in=["cases.payment", "cases.instalment"])),
    "plan": (_("Plans"), frozenset({PLAN}), Q(object_type="cases.paymentplan")),
    "barrier": (_("Barriers"), frozenset({BARRIER, BARRIER_REMOVED}), Q(object_type="cases.barrier")),
    "status": (_("Status and objective"), frozenset(),
               Q(object_type="cases.case") & (Q(after__has_key="status") | Q(after__has_key="objective"))),
    "assignment": (_("Assignments"), frozenset(), Q(object_type="cases.case", after__has_key="assigned_agent_id")),
    "pause": (_("Pauses and restrictions"), frozenset(), Q(action__in=["case.paused", "case.resumed", "case.contact_restricted"])),
    "followup": (_("Follow-ups"), frozenset(), Q(action="case.followup_scheduled") | Q(action__startswith="followup.")),
    "record": (_("Case record"), frozenset(), Q(action__in=["case.created", "case.updated"])),
    "portal": (_("Self-service"), frozenset(), Q(action__startswith="portal.")),
}

# A link issued with a message is told by the message's entry: only links an agent gave are
# listed. A debtor's visits are not rows at all (only a link's first opening is audited).
PORTAL_QUIET = Q(action="portal.link_issued") & ~Q(after__source="agent")


def timeline_kind_choices() -> list[tuple[str, Any]]:
    """The timeline filter's choices: (code, label)."""
    return [(code, label) for code, (label, _sources, _audit) in TIMELINE_KINDS.items()]


def _timeline_sources(case_id: int) -> dict[int, tuple[QuerySet, str]]:
    """Each source's rows of the case and the column that dates them."""
    sent_as = OutboundMessage.objects.filter(contact_attempt_id=OuterRef("pk"))
    return {
        # A sent message is logged as a contact attempt too: its message entry tells it.
        ATTEMPT: (ContactAttempt.objects.filter(case_id=case_id).filter(~Exists(sent_as)), "occurred_at"),
        MESSAGE: (OutboundMessage.objects.filter(case_id=case_id), "created_at"),
        PROMISE: (PromiseToPay.objects.filter(case_id=case_id), "created_at"),
        PAYMENT: (Payment.objects.filter(case_id=case_id), "created_at"),
        PROMISE_OUTCOME: (PromiseToPay.objects.filter(case_id=case_id, status__in=RESOLVED_PROMISE, resolved_at__isnull=False), "resolved_at"),
        PLAN: (PaymentPlan.objects.filter(case_id=case_id), "created_at"),
        BARRIER: (Barrier.objects.filter(case_id=case_id), "opened_at"),
        BARRIER_REMOVED: (Barrier.objects.filter(case_id=case_id, removed_at__isnull=False), "removed_at"),
        AUDIT: (AuditLog.objects.filter(case_id=case_id).exclude(action__in=[*TOLD_BY_ROWS, *FOLDED]).exclude(PORTAL_QUIET), "at"),
    }


def case_timeline_rows(*, case_id: int, kind: str = "") -> QuerySet:
    """The (source, id, at) of every event of the case, newest first; rows of the same instant in
    source order (the event before what it caused, e.g. the payment before the promise it kept)."""
    _label, wanted, audit_q = TIMELINE_KINDS.get(kind, (None, frozenset(range(ATTEMPT, AUDIT)), Q()))
    parts = []
    for src, (qs, at_field) in _timeline_sources(case_id).items():
        if src == AUDIT:
            if audit_q is None:
                continue
            qs = qs.filter(audit_q)
        elif src not in wanted:
            continue
        parts.append(qs.order_by().annotate(src=Value(src), oid=F("pk"), at_=F(at_field)).values_list("src", "oid", "at_"))
    first, *rest = parts
    return (first.union(*rest, all=True) if rest else first).order_by("-at_", "src", "-oid")


def case_timeline(*, case: Case, kind: str = "", page: int | str = 1, per_page: int = 15):
    """Everything that happened to the case, newest first, paginated (see above): the page and its
    entries (collections_crm.desk.timeline.Entry)."""
    page_obj = Paginator(case_timeline_rows(case_id=case.pk, kind=kind), per_page).get_page(page)
    rows = list(page_obj.object_list)
    ids: dict[int, list[int]] = defaultdict(list)
    for src, oid, _at in rows:
        ids[src].append(oid)
    objects: dict[int, dict[int, Any]] = {}
    if ids[ATTEMPT]:
        objects[ATTEMPT] = (ContactAttempt.objects.select_related("excuse_category", "contact_point", "agent")
                            .prefetch_related("techniques").in_bulk(ids[ATTEMPT]))
    if ids[MESSAGE]:
        objects[MESSAGE] = OutboundMessage.objects.in_bulk(ids[MESSAGE])
    if ids[PROMISE] or ids[PROMISE_OUTCOME]:
        objects[PROMISE] = objects[PROMISE_OUTCOME] = PromiseToPay.objects.select_related("created_by").in_bulk(
            ids[PROMISE] + ids[PROMISE_OUTCOME])
    if ids[PAYMENT]:
        objects[PAYMENT] = Payment.objects.select_related("posted_by").in_bulk(ids[PAYMENT])
    if ids[PLAN]:
        objects[PLAN] = PaymentPlan.objects.select_related("created_by").in_bulk(ids[PLAN])
    if ids[BARRIER] or ids[BARRIER_REMOVED]:
        objects[BARRIER] = objects[BARRIER_REMOVED] = Barrier.objects.select_related("opened_by", "removed_by").in_bulk(
            ids[BARRIER] + ids[BARRIER_REMOVED])
    if ids[AUDIT]:
        objects[AUDIT] = AuditLog.objects.select_related("actor").in_bulk(ids[AUDIT])
    related = _timeline_audit_of_rows(case_id=case.pk, ids=ids)
    user_ids = {
        value for row in [*objects.get(AUDIT, {}).values(), *related] if row.object_type == "cases.case"
        for value in ((row.before or {}).get("assigned_agent_id"), (row.after or {}).get("assigned_agent_id")) if value
    }
    users = User.objects.in_bulk(user_ids) if user_ids else {}
    return page_obj, timeline_entries(rows, objects, related, users)


def _timeline_audit_of_rows(*, case_id: int, ids: dict[int, list[int]]) -> list[AuditLog]:
    """In one query: the audit rows that tell the events of the page's domain rows (their actor,
    their time as written) and the rows folded into the page's entries (written at the same time)."""
    of_rows = [Q(object_type=object_type, object_id__in=[str(pk) for pk in ids[src]], action__in=actions)
               for src, (object_type, actions) in ROW_ACTIONS.items() if ids[src]]
    anchors = of_rows + ([Q(pk__in=ids[AUDIT])] if ids[AUDIT] else [])
    if not anchors:
        return []
    at = AuditLog.objects.filter(case_id=case_id).filter(reduce(or_, anchors)).values("at")
    wanted = reduce(or_, of_rows, Q(action__in=list(FOLDED), at__in=at))
    return list(AuditLog.objects.filter(case_id=case_id).filter(wanted).select_related("actor").order_by("at", "id"))
