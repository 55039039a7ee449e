"""Reads for the agent desk: the case page's contact picture, preparation panel and timeline.
They combine the case layer's records with the engine's (contact attempts, the contact policy),
which is why they live here and not in cases.selectors."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from cases.choices import BarrierStatus, PlanStatus, PromiseStatus
from cases.models import Barrier, Case, PaymentPlan, PromiseToPay
from collections_crm.accounts.models import User
from collections_crm.audit.models import AuditLog
from contacts.models import ContactAttempt
from contacts.selectors import contact_status_for_cases, playbook_for
from debtors.models import ContactPoint, Debtor

from .preparation import talking_points
from .timeline import describe_entries

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


# Timeline kinds: what the filter offers, each a condition on the audit rows of the case.
TIMELINE_KINDS: dict[str, tuple] = {
    "contact": (_("Contacts"), Q(object_type="contacts.contactattempt")),
    "message": (_("Messages"), Q(action__startswith="message.") | Q(object_type__in=["contacts.outboundmessage", "contacts.message"])),
    "promise": (_("Promises"), Q(object_type="cases.promisetopay")),
    "payment": (_("Payments"), Q(object_type__in=["cases.payment", "cases.instalment"])),
    "plan": (_("Plans"), Q(object_type="cases.paymentplan")),
    "barrier": (_("Barriers"), Q(object_type="cases.barrier")),
    "status": (_("Status and objective"), Q(object_type="cases.case") & (Q(after__has_key="status") | Q(after__has_key="objective"))),
    "assignment": (_("Assignments"), Q(object_type="cases.case", after__has_key="assigned_agent_id")),
    "followup": (_("Follow-ups"), Q(action="case.followup_scheduled") | Q(action__startswith="followup.")),
}


def case_timeline(*, case: Case, kind: str = "", page: int | str = 1, per_page: int = 15):
    """Everything that happened to the case, newest first, from its audit trail (one indexed
    query per page whatever the history size), with the contact attempts on the page loaded in
    one more query for their details."""
    rows = AuditLog.objects.filter(case_id=case.pk).select_related("actor").order_by("-at", "-id")
    if kind in TIMELINE_KINDS:
        rows = rows.filter(TIMELINE_KINDS[kind][1])
    page_obj = Paginator(rows, per_page).get_page(page)
    entries = list(page_obj.object_list)
    attempt_ids = [int(e.object_id) for e in entries if e.object_type == "contacts.contactattempt"]
    attempts = {}
    if attempt_ids:
        attempts = ContactAttempt.objects.select_related("excuse_category", "contact_point", "agent").prefetch_related("techniques").in_bulk(attempt_ids)
    for entry in entries:
        entry.attempt = attempts.get(int(entry.object_id)) if entry.object_type == "contacts.contactattempt" else None
    user_ids = {
        value for e in entries if e.object_type == "cases.case"
        for value in ((e.before or {}).get("assigned_agent_id"), (e.after or {}).get("assigned_agent_id")) if value
    }
    users = User.objects.in_bulk(user_ids) if user_ids else {}
    return page_obj, describe_entries(entries, users)
