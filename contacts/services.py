"""Logging interactions with debtors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import reasons
from cases.choices import BarrierKind, BarrierStatus, CaseStatus, Outcome
from cases.models import Barrier
from cases.services import barrier_open, case_change, case_lock, case_replan
from collections_crm.audit.services import audit_record, snapshot

from .models import ContactAttempt, ExcuseCategory, MessageTemplate, MessageTemplateVersion, Technique


def contact_attempt_log(
    *,
    actor,
    case_id: int,
    channel: str,
    outcome: str,
    objective: str | None = None,
    direction: str = "outbound",
    contact_point=None,
    occurred_at: dt.datetime | None = None,
    duration_seconds: int = 0,
    techniques: list[Technique] | None = None,
    excuse_category: ExcuseCategory | None = None,
    statement_kind: str = "",
    notes: str = "",
    next_step: str = "",
    next_step_at: dt.datetime | None = None,
    agent=None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
    replan: bool = True,
) -> ContactAttempt:
    """Log one interaction and re-plan the case. ``replan=False``: the caller records what the
    interaction brought (a payment, a promise, a plan) with a service that re-plans the case
    itself, in the same transaction, once, on the complete facts."""
    now = now or timezone.now()
    occurred_at = occurred_at or now
    errors = {}
    if len(notes) > settings.CRM_NOTES_MAX_LENGTH:
        errors["notes"] = _("Notes are limited to %(n)d characters.") % {"n": settings.CRM_NOTES_MAX_LENGTH}
    if occurred_at > now + dt.timedelta(minutes=5):
        errors["occurred_at"] = _("An interaction cannot happen in the future.")
    if next_step_at is not None and next_step_at < now - dt.timedelta(minutes=5):
        errors["next_step_at"] = _("The next step must be in the future.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        case = case_lock(case_id=case_id, expected_version=expected_version)
        if contact_point is not None and contact_point.debtor_id != case.debtor_id:
            raise ValidationError({"contact_point": _("This contact point belongs to another debtor.")})
        attempt = ContactAttempt(
            case=case, contact_point=contact_point, channel=channel, direction=direction,
            agent=agent if agent is not None else (actor if getattr(actor, "pk", None) else None),
            occurred_at=occurred_at, duration_seconds=duration_seconds,
            objective=objective or case.objective, outcome=outcome, excuse_category=excuse_category,
            statement_kind=statement_kind, notes=notes, next_step=next_step, next_step_at=next_step_at,
        )
        attempt.full_clean(exclude=["case", "agent", "contact_point", "excuse_category"])
        attempt.save()
        if techniques:
            attempt.techniques.set(techniques)
        after = snapshot(attempt, ["channel", "direction", "objective", "outcome", "excuse_category_id", "statement_kind", "next_step_at"])
        after["techniques"] = sorted(t.code for t in techniques or [])
        audit_record(actor=actor, action="contact_attempt.logged", obj=attempt, after=after, at=now)

        status = CaseStatus.ACTIVE if case.status == CaseStatus.NEW else case.status
        if outcome == Outcome.DISPUTE and status in CaseStatus.workable_values():
            status = CaseStatus.DISPUTED
        changes: dict[str, Any] = {"last_contact_at": max(filter(None, [case.last_contact_at, occurred_at])), "last_outcome": outcome}
        if next_step_at:
            changes.update(next_action_at=next_step_at, next_action_note=reasons.text(next_step) or reasons.reason("agreed"))
        case_change(case, actor=actor, action="case.contacted", now=now, status=status, **changes)
        if excuse_category is not None and excuse_category.is_barrier:
            _barrier_from_excuse(case, excuse_category, actor=actor, now=now)
        if replan:
            case_replan(case=case, actor=actor, now=now)
    return attempt


def _barrier_from_excuse(case, category: ExcuseCategory, *, actor, now: dt.datetime) -> None:
    """Seed 001: an excuse that says something is missing on our side opens a payment barrier of
    the category's kind (unless one of that kind is open), in the caller's transaction; the
    planner then chooses Remove barriers until an agent marks it removed."""
    kind = category.barrier_kind or BarrierKind.OTHER
    if Barrier.objects.filter(case_id=case.pk, kind=kind, status=BarrierStatus.OPEN).exists():
        return
    barrier_open(actor=actor, case_id=case.pk, kind=kind, description=category.name if kind == BarrierKind.OTHER else "",
                 now=now, replan=False)


def template_save_version(
    *,
    actor,
    template_id: int,
    subject: str,
    body: str,
    rollback_of: int | None = None,
    now: dt.datetime | None = None,
) -> MessageTemplateVersion:
    """Save new text for a template as a new, immutable version and make it current. Messages
    already sent keep pointing at the version they used. A rollback is a new version copying an
    old one (``rollback_of`` is that version's number, for the audit trail)."""
    from .templating import validate_template

    now = now or timezone.now()
    with transaction.atomic():
        template = MessageTemplate.objects.select_for_update().get(pk=template_id)
        problems = validate_template(channel=template.channel, subject=subject, body=body)
        if problems:
            errors: dict[str, list[str]] = {}
            for problem in problems:
                errors.setdefault(problem.field, []).append(problem.message)
            raise ValidationError(errors)
        current = template.current_version
        if current is not None and current.subject == subject and current.body == body:
            raise ValidationError({"body": _("Nothing changed: this is already the current text.")})
        last = template.versions.order_by("-number").values_list("number", flat=True).first() or 0
        version = MessageTemplateVersion.objects.create(
            template=template, number=last + 1, subject=subject, body=body,
            created_by=actor if getattr(actor, "pk", None) else None, created_at=now,
        )
        template.current_version = version
        template.save(update_fields=["current_version"])
        before = {"version": current.number, "subject": current.subject, "body": current.body} if current else None
        after = {"version": version.number, "subject": subject, "body": body}
        if rollback_of is not None:
            after["rollback_of"] = rollback_of
        audit_record(actor=actor, action="template.rolled_back" if rollback_of else "template.version_saved",
                     obj=template, before=before, after=after, at=now)
    return version
