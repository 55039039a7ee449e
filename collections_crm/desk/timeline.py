"""How a case's history reads on its timeline: one entry per business event, from a domain row
(a contact attempt, a message, a promise and its outcome, a payment, a plan, a barrier opened or
removed) or from an audit row that no domain row tells (an assignment, an objective change, a
pause…); the case rows a service writes beside its event are folded into that entry as
"changes". Formatting only; the rows and the users they name are loaded by
collections_crm.desk.selectors.case_timeline, which also uses the sources' vocabulary below."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field as dc_field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext_lazy as _

from cases.choices import BarrierKind, CaseStatus, Channel, Objective, PaymentMethod, PlanFrequency, PlanStatus
from cases.reasons import WHY, reason_text, result_text
from collections_crm.selfservice.models import CheckoutStatus, LinkSource, UploadPurpose
from contacts.selectors import excuse_name

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# The timeline's sources, in the order rows of the same instant are listed.
ATTEMPT, MESSAGE, PROMISE, PAYMENT, PROMISE_OUTCOME, PLAN, BARRIER, BARRIER_REMOVED, AUDIT = range(1, 10)

# Audit actions a domain row already tells (the row's own time says when): never listed twice.
TOLD_BY_ROWS = frozenset({
    "contact_attempt.logged", "message.queued", "message.sent", "promise.recorded", "promise.kept", "promise.partial",
    "promise.broken", "payment.posted", "plan.created", "plan.proposed", "barrier.opened", "barrier.removed",
})
# Rows a service writes in the same transaction as its event, shown inside that event's entry:
# action → the actions of the entries they belong to (same time, same actor).
FOLDED: dict[str, frozenset[str]] = {
    "case.contacted": frozenset({"contact_attempt.logged", "message.sent"}),
    "case.promise_recorded": frozenset({"promise.recorded"}),
    "case.payment_posted": frozenset({"payment.posted"}),
    "instalment.paid": frozenset({"payment.posted"}),
    "promise.part_paid": frozenset({"payment.posted"}),
    "case.plan_recorded": frozenset({"plan.created", "plan.proposed", "plan.agreed", "plan.approved"}),
    "case.plan_cancelled": frozenset({"plan.cancelled"}),
}
# Per domain source: the audit rows that tell its rows' events (for the actor and the folded rows).
ROW_ACTIONS: dict[int, tuple[str, tuple[str, ...]]] = {
    ATTEMPT: ("contacts.contactattempt", ("contact_attempt.logged",)),
    MESSAGE: ("contacts.outboundmessage", ("message.queued", "message.sent")),
    PROMISE: ("cases.promisetopay", ("promise.recorded",)),
    PROMISE_OUTCOME: ("cases.promisetopay", ("promise.kept", "promise.partial", "promise.broken")),
    PAYMENT: ("cases.payment", ("payment.posted",)),
    PLAN: ("cases.paymentplan", ("plan.created", "plan.proposed")),
    BARRIER: ("cases.barrier", ("barrier.opened",)),
    BARRIER_REMOVED: ("cases.barrier", ("barrier.removed",)),
}

# action → (title, icon, kind used for the colour of the dot)
ACTIONS = {
    "contact_attempt.logged": (_("Contact"), "telephone", "contact"),
    "promise.recorded": (_("Promise to pay recorded"), "hand-thumbs-up", "promise"),
    "promise.kept": (_("Promise kept"), "check2-circle", "payment"),
    "promise.part_paid": (_("Promise partly paid"), "hourglass-split", "promise"),
    "promise.partial": (_("Promise partly kept"), "hourglass-bottom", "danger"),
    "promisetopay.postponed_by_pause": (_("Promise moved by the pause"), "calendar-plus", "muted"),
    "instalment.postponed_by_pause": (_("Instalment moved by the pause"), "calendar-plus", "muted"),
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
    "case.updated": (_("Case edited"), "pencil", "muted"),
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
    "message.failed": (_("Message not sent"), "envelope-x", "danger"),
    "message.cancelled": (_("Message cancelled"), "envelope-slash", "muted"),
    "followup.completed": (_("Follow-up done"), "check2-circle", "followup"),
    # The engine's own follow-ups (sent, skipped, moved by the policy …)
    "followup.*": (_("Automatic follow-up"), "robot", "followup"),
    # The self-service portal: links, the debtor's identity check and what the debtor did there.
    "portal.link_issued": (_("Personal link given"), "link-45deg", "muted"),
    "portal.link_opened": (_("Personal link opened for the first time"), "box-arrow-in-right", "contact"),
    "portal.links_revoked": (_("Personal links ended"), "x-octagon", "danger"),
    "portal.identity_confirmed": (_("Debtor confirmed their identity on the portal"), "person-check", "contact"),
    "portal.identity_failed": (_("Wrong identity answer on the portal"), "person-exclamation", "danger"),
    "portal.link_locked": (_("Personal link locked after wrong identity answers"), "lock", "danger"),
    "portal.identity_refused_locked": (_("Identity check refused: the link is locked"), "lock", "danger"),
    "portal.checkout_started": (_("Online payment started"), "credit-card", "payment"),
    "portal.checkout_paid": (_("Online payment confirmed"), "credit-card-2-front", "payment"),
    "portal.checkout_declined": (_("Online payment declined"), "credit-card", "danger"),
    "portal.checkout_cancelled": (_("Online payment cancelled by the debtor"), "credit-card", "muted"),
    "portal.checkout_refused": (_("Online payment taken but not posted: needs a person"), "exclamation-octagon", "danger"),
    "portal.promise": (_("Promise made on the portal"), "hand-thumbs-up", "promise"),
    "portal.plan": (_("Payment plan chosen on the portal"), "calendar-range", "plan"),
    "portal.document_requested": (_("Document asked for on the portal"), "file-earmark-text", "barrier"),
    "portal.dispute": (_("Dispute opened on the portal"), "exclamation-diamond", "danger"),
    "portal.preferences": (_("Contact preferences changed on the portal"), "sliders", "status"),
    "portal.upload": (_("File sent on the portal"), "paperclip", "contact"),
    "portal.statement_downloaded": (_("Statement downloaded on the portal"), "file-earmark-pdf", "contact"),
    "portal_upload.downloaded": (_("A file the debtor sent was opened"), "paperclip", "muted"),
    "portal.*": (_("Self-service portal"), "phone", "contact"),
}

# Who acted, when an entry of the portal has no staff actor.
PORTAL_ACTOR = _("Debtor, on the portal")

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


def _portal_summary(action: str, after: dict) -> str:
    """The portal's audit rows in words (their ``after`` holds codes, amounts and dates)."""
    parts: list[str] = []
    if after.get("source"):
        parts.append(str(dict(LinkSource.choices).get(after["source"], after["source"])))
    if action == "portal.link_issued" and after.get("expires_at"):
        parts.append(str(_("valid until %(date)s") % {"date": _fmt(after["expires_at"][:10])}))
    if action == "portal.links_revoked" and after.get("links") is not None:
        parts.append(str(_("%(n)s link(s)") % {"n": after["links"]}))
    if after.get("amount") is not None or after.get("total_amount") is not None:
        amount = _fmt(after.get("amount", after.get("total_amount")), "amount")
        parts.append(f"{amount} {after['currency']}" if after.get("currency") else amount)
    if after.get("instalment_count"):
        parts.append(str(_("%(n)s instalments, %(freq)s") % {
            "n": after["instalment_count"], "freq": PLAN_FREQUENCY_LABELS.get(after.get("frequency"), after.get("frequency") or "")}))
    for key, label in (("due_date", _("by %(date)s")), ("first_due_date", _("from %(date)s")), ("locked_until", _("until %(date)s"))):
        if after.get(key):
            parts.append(str(label % {"date": _fmt(after[key])}))
    if after.get("status") and action.startswith("portal.checkout"):
        parts.append(str(dict(CheckoutStatus.choices).get(after["status"], after["status"])))
    if after.get("purpose"):
        parts.append(str(dict(UploadPurpose.choices).get(after["purpose"], after["purpose"])))
    if after.get("kind"):
        parts.append(str(BARRIER_KIND_LABELS.get(after["kind"], after["kind"])))
    if after.get("channel"):
        parts.append(str(dict(Channel.choices).get(after["channel"], after["channel"])))
    for key in ("original_name", "order", "reason", "failure_reason"):
        if after.get(key):
            parts.append(str(after[key]))
    if after.get("failed_attempts"):
        parts.append(str(_("%(n)s wrong answer(s)") % {"n": after["failed_attempts"]}))
    return " · ".join(parts)


def _summary(action: str, after: dict) -> str:
    after = after or {}
    if action.startswith("portal."):
        return _portal_summary(action, after)
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
    if action.endswith(".postponed_by_pause"):
        return _("Now due on %(date)s") % {"date": _fmt(after.get("due_date"))}
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


@dataclass(eq=False)
class Entry:
    """One line of the timeline."""

    action: str
    at: dt.datetime
    actor: Any = None
    title: Any = ""
    icon: str = "dot"
    kind: str = "muted"
    summary: str = ""
    attempt: Any = None  # a contact attempt, shown with its details
    message: Any = None  # an outbound message
    changes: list[tuple[str, str, str]] = dc_field(default_factory=list)
    extra: list[str] = dc_field(default_factory=list)
    by: Any = ""  # who acted when no staff user did (the debtor on the portal)


def _entry(action: str, at: dt.datetime, actor, summary: str = "", **kwargs) -> Entry:
    title, icon, kind = ACTIONS.get(action) or ACTIONS.get(action.split(".")[0] + ".*", (action, "dot", "muted"))
    return Entry(action=action, at=at, actor=actor, title=title, icon=icon, kind=kind, summary=summary, **kwargs)


def _promise_summary(promise) -> str:
    return _summary("promise.recorded", {"amount": str(promise.amount), "due_date": promise.due_date.isoformat(), "method": promise.method})


def _row_entry(src: int, obj, told: list) -> Entry:
    """The entry of a domain row; ``told``: its audit rows, if a service wrote it."""
    by = told[0].actor if told else None
    if src == ATTEMPT:
        entry = _entry("contact_attempt.logged", obj.occurred_at, obj.agent or by, attempt=obj)
        if obj.channel == Channel.PORTAL:
            entry.icon, entry.by = "phone", PORTAL_ACTOR
        return entry
    if src == MESSAGE:
        state = obj.status if obj.status in ("sent", "failed", "cancelled") else "queued"
        return _entry(f"message.{state}", obj.created_at, None, obj.subject, message=obj)
    if src == PROMISE:
        return _entry("promise.recorded", obj.created_at, obj.created_by or by, _promise_summary(obj))
    if src == PROMISE_OUTCOME:
        return _entry(f"promise.{obj.status}", obj.resolved_at, by, _promise_summary(obj))
    if src == PAYMENT:
        return _entry("payment.posted", obj.created_at, obj.posted_by or by, _summary("payment.posted", {
            "amount": str(obj.amount), "received_on": obj.received_on.isoformat(), "method": obj.method}))
    if src == PLAN:
        # Proposed or agreed at once: the audit row says; a plan written in bulk tells it by its status.
        action = told[0].action if told else ("plan.proposed" if obj.status == PlanStatus.PROPOSED else "plan.created")
        return _entry(action, obj.created_at, obj.created_by or by, _summary(action, {
            "total_amount": str(obj.total_amount), "instalment_count": obj.instalment_count, "frequency": obj.frequency,
            "first_due_date": obj.first_due_date.isoformat()}))
    if src == BARRIER:
        return _entry("barrier.opened", obj.opened_at, obj.opened_by or by, _summary("barrier.opened", {
            "kind": obj.kind, "description": obj.description}))
    return _entry("barrier.removed", obj.removed_at, obj.removed_by or by, str(BARRIER_KIND_LABELS.get(obj.kind, obj.kind)))


def timeline_entries(rows: list[tuple[int, int, Any]], objects: dict[int, dict[int, Any]], related: list, users: dict) -> list[Entry]:
    """The page's entries, in the order of ``rows`` ((source, id, at), newest first): ``objects``
    holds each source's rows by id, ``related`` the audit rows that tell the page's domain rows
    and those folded into its entries."""
    told = defaultdict(list)
    for row in related:
        told[(row.object_type, row.object_id)].append(row)
    entries: list[Entry] = []
    owners: dict[tuple, Entry] = {}  # (at, actor, action) of an entry's own audit rows → the entry
    portal_visits: dict[dt.datetime, Entry] = {}  # the page's portal contact attempts by their time
    for src, oid, _at in rows:
        obj = objects.get(src, {}).get(oid)
        if obj is None:
            continue
        if src == AUDIT:
            own = [obj]
            summary = _summary(obj.action, obj.after)
            if obj.action.startswith("portal.") and obj.actor_id is None:
                # What the debtor did, written with the portal's contact attempt of the same instant:
                # one entry (the attempt's), this row a line of it. Listed before it (source order).
                visit = portal_visits.get(obj.at)
                if visit is not None:
                    title = str(_entry(obj.action, obj.at, None).title)
                    visit.extra.append(f"{title}: {summary}" if summary else title)
                    continue
            entry = _entry(obj.action, obj.at, obj.actor, summary, changes=_changes(obj, users))
            if obj.action.startswith("portal.") and obj.actor_id is None:
                entry.by = PORTAL_ACTOR
        else:
            object_type, actions = ROW_ACTIONS[src]
            own = [r for r in told[(object_type, str(oid))] if r.action in actions]
            entry = _row_entry(src, obj, own)
            if src == ATTEMPT and obj.channel == Channel.PORTAL:
                portal_visits.setdefault(obj.occurred_at, entry)
        for row in own:
            owners.setdefault((row.at, row.actor_id, row.action), entry)
        entries.append(entry)
    for row in related:
        owner = next((owners[key] for key in ((row.at, row.actor_id, a) for a in FOLDED.get(row.action, ())) if key in owners), None)
        if owner is None:
            continue
        if row.object_type == "cases.case":
            owner.changes += _changes(row, users)
        else:
            owner.extra.append(str(ACTIONS.get(row.action, (row.action,))[0]))
    return entries
