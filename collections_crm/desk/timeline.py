"""How a case's audit rows read on its timeline: one entry per business event (the case row a
service writes beside its entity row is folded into that entry as "changes"). Formatting only;
the rows and the users they name are loaded by cases.selectors.case_timeline."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from itertools import groupby
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext_lazy as _

from cases.choices import BarrierKind, CaseStatus, Channel, Objective, PaymentMethod, PlanFrequency
from cases.reasons import WHY, reason_text, result_text
from contacts.selectors import excuse_name

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# action → (title, icon, kind used for the colour of the dot)
ACTIONS = {
    "contact_attempt.logged": (_("Contact"), "telephone", "contact"),
    "promise.recorded": (_("Promise to pay recorded"), "hand-thumbs-up", "promise"),
    "promise.kept": (_("Promise kept"), "check2-circle", "payment"),
    "promise.part_paid": (_("Promise partly paid"), "hourglass-split", "promise"),
    "promise.broken": (_("Promise broken"), "x-octagon", "danger"),
    "promise.cancelled": (_("Promise cancelled"), "x-circle", "muted"),
    "payment.posted": (_("Payment received"), "cash-coin", "payment"),
    "instalment.paid": (_("Instalment paid"), "cash-stack", "payment"),
    "plan.created": (_("Payment plan agreed"), "calendar-range", "plan"),
    "plan.proposed": (_("Payment plan proposed"), "calendar-range", "plan"),
    "plan.agreed": (_("Proposed plan agreed by the debtor"), "calendar-check", "plan"),
    "plan.approved": (_("Proposed plan approved beyond the guardrails"), "calendar-check", "plan"),
    "plan.adjusted": (_("Proposed plan adjusted to the balance"), "calendar-range", "plan"),
    "plan.cancelled": (_("Payment plan cancelled"), "calendar-x", "danger"),
    "plan.completed": (_("Payment plan completed"), "calendar-check", "payment"),
    "plan.defaulted": (_("Payment plan defaulted"), "calendar-x", "danger"),
    "barrier.opened": (_("Barrier opened"), "cone-striped", "barrier"),
    "barrier.removed": (_("Barrier removed"), "check2-square", "barrier"),
    "case.created": (_("Case created"), "folder-plus", "muted"),
    "case.assigned": (_("Case assigned"), "person-badge", "muted"),
    "case.status_changed": (_("Status changed"), "flag", "status"),
    "case.objective_changed": (_("Objective changed"), "bullseye", "status"),
    "case.paused": (_("Paused"), "pause-circle", "danger"),
    "case.resumed": (_("Pause lifted"), "play-circle", "status"),
    "case.followup_scheduled": (_("Follow-up scheduled"), "calendar-event", "followup"),
    "case.contact_restricted": (_("Contact restricted"), "slash-circle", "danger"),
    "instalment.missed": (_("Instalment missed"), "calendar-x", "danger"),
    "message.queued": (_("Message queued"), "envelope", "contact"),
    "message.sent": (_("Message sent"), "envelope-check", "contact"),
    "followup.completed": (_("Follow-up done"), "check2-circle", "followup"),
    # The engine's own follow-ups (sent, skipped, moved by the policy …)
    "followup.*": (_("Automatic follow-up"), "robot", "followup"),
}

# Case fields worth showing when they change, with how to label their values.
CASE_CHANGES: dict[str, tuple[StrOrPromise, dict[Any, StrOrPromise] | None]] = {
    "status": (_("Status"), dict(CaseStatus.choices)),
    "objective": (_("Objective"), dict(Objective.choices)),
    "objective_reason": (_("Why"), None),
    "assigned_agent_id": (_("Agent"), None),
    "balance": (_("Balance"), None),
    "next_action_at": (_("Next action"), None),
    "next_action_note": (_("Next step"), None),
}

# Value labels for the summaries. Keyed by Any: an audit row may lack the value (None) or hold one
# no longer among the choices.
PAYMENT_METHOD_LABELS: dict[Any, StrOrPromise] = dict(PaymentMethod.choices)
PLAN_FREQUENCY_LABELS: dict[Any, StrOrPromise] = dict(PlanFrequency.choices)
BARRIER_KIND_LABELS: dict[Any, StrOrPromise] = dict(BarrierKind.choices)

RESTRICTIONS = {
    "cease_communication": _("Debtor asked us to stop communicating"),
    "do_not_contact": _("Do not contact"),
    "contact_point_id": _("One contact point must not be used"),
}


def _fmt(value, field: str = "", users: dict | None = None) -> str:
    if value in (None, "", {}):
        return "—"
    if field in ("objective_reason", "next_action_note"):
        return reason_text(value, excuse_name=excuse_name) or "—"
    if field == "assigned_agent_id":
        user = (users or {}).get(value)
        return user.display_name() if user else str(_("Unassigned"))
    if isinstance(value, str):
        when = parse_datetime(value) if "T" in value else None
        if when is not None:
            return date_format(timezone.localtime(when), "SHORT_DATETIME_FORMAT")
        day = parse_date(value) if len(value) == 10 else None
        if day is not None:
            return date_format(day, "SHORT_DATE_FORMAT")
        if field in ("balance", "amount", "total_amount"):
            try:
                return number_format(Decimal(value), decimal_pos=2, use_l10n=True, force_grouping=True)
            except InvalidOperation:
                return value
    return str(value)


def _summary(action: str, after: dict) -> str:
    after = after or {}
    if action.startswith("promise.recorded"):
        return _("%(amount)s by %(date)s (%(method)s)") % {
            "amount": _fmt(after.get("amount"), "amount"), "date": _fmt(after.get("due_date")),
            "method": PAYMENT_METHOD_LABELS.get(after.get("method"), after.get("method"))}
    if action == "payment.posted":
        return _("%(amount)s received on %(date)s (%(method)s)") % {
            "amount": _fmt(after.get("amount"), "amount"), "date": _fmt(after.get("received_on")),
            "method": PAYMENT_METHOD_LABELS.get(after.get("method"), after.get("method"))}
    if action in ("plan.created", "plan.proposed"):
        return _("%(total)s in %(n)s instalments, %(freq)s, from %(date)s") % {
            "total": _fmt(after.get("total_amount"), "total_amount"), "n": after.get("instalment_count"),
            "freq": PLAN_FREQUENCY_LABELS.get(after.get("frequency"), ""), "date": _fmt(after.get("first_due_date"))}
    if action == "plan.approved":
        return "; ".join(after.get("beyond_guardrails") or [])
    if action == "plan.cancelled":
        return str(after.get("reason") or "")
    if action == "barrier.opened":
        what = str(BARRIER_KIND_LABELS.get(after.get("kind"), after.get("kind") or ""))
        return f"{what}: {after['description']}" if after.get("description") else what
    if action.startswith("message.") and after.get("channel"):
        return str(dict(Channel.choices).get(after["channel"], after["channel"]))
    if action.startswith("followup.") and after.get("result"):
        return result_text(after["result"])
    if action == "case.paused":
        return str(WHY.get(after.get("why"), after.get("why") or ""))
    if action == "case.created" and after.get("import_job"):
        return _("Created by import #%(job)s, line %(line)s") % {"job": after["import_job"], "line": after.get("line", "—")}
    if action == "case.contact_restricted":
        return ", ".join(str(label) for key, label in RESTRICTIONS.items() if key in after)
    return ""


def _changes(row, users: dict) -> list[tuple[str, str, str]]:
    if row.object_type != "cases.case" or not row.after:
        return []
    before = row.before or {}
    out = []
    for field, (label, labels) in CASE_CHANGES.items():
        if field in row.after and row.action != "case.created":
            old, new = before.get(field), row.after[field]
            if labels:
                old, new = labels.get(old, old), labels.get(new, new)
            out.append((str(label), _fmt(old, field, users), _fmt(new, field, users)))
    return out


def describe_entries(rows: list, users: dict) -> list:
    """Group the rows one transaction wrote (same time, same actor) into one entry."""
    entries = []
    for _key, grouped in groupby(rows, key=lambda r: (r.at, r.actor_id)):
        group = list(grouped)
        primary = next((r for r in group if r.object_type != "cases.case"), group[0])
        title, icon, kind = ACTIONS.get(primary.action) or ACTIONS.get(primary.action.split(".")[0] + ".*", (primary.action, "dot", "muted"))
        primary.title, primary.icon, primary.kind = title, icon, kind
        primary.summary = _summary(primary.action, primary.after)
        primary.changes = [change for row in group for change in _changes(row, users)]
        primary.extra = [r for r in group if r is not primary and r.object_type != "cases.case"]
        for extra in primary.extra:
            extra.title = ACTIONS.get(extra.action, (extra.action,))[0]
        entries.append(primary)
    return entries
