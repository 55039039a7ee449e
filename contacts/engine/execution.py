"""Execution of claimed steps, and agents closing their tasks.

Owns ``followups_execute``: for claimed automatic steps, the contact policy check and the message
into the outbox (contacts.messaging.outbox), the step marked done with its audit row, then one
set-based replan of their cases; and ``followup_complete``, an agent marking a task done."""

from __future__ import annotations

import datetime as dt
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cases.models import Case
from collections_crm.audit.services import audit_record

from ..lookups import ids_q
from ..models import (
    FollowUp,
    FollowUpStatus,
    StepKind,
)
from .outbox import message_create
from .planning import followups_plan

log = logging.getLogger(__name__)


def followups_execute(*, followup_ids: list[int], now: dt.datetime) -> dict[int, str]:
    """Execute claimed automatic steps: for each, check the contact policy, render the message
    into the outbox, mark the step done (audit row); then plan the next step of all their cases
    at once (set-based). One transaction; each step in its own savepoint, so a step that fails
    stays claimed (the lease hands it out again) without undoing the others. Safe to run twice:
    only a row still ``running`` is executed. Returns what happened per id (for logs and tests)."""
    outcomes: dict[int, str] = dict.fromkeys(followup_ids, "missing")
    case_ids = sorted(set(FollowUp.objects.filter(ids_q("pk", followup_ids)).values_list("case_id", flat=True)))
    if not case_ids:
        return outcomes
    with transaction.atomic():
        # Lock order: cases, then follow-ups (the order of every case service and of the replan),
        # each by id so that two batches sharing a case cannot deadlock.
        cases = {c.pk: c for c in Case.objects.select_for_update().filter(ids_q("pk", case_ids)).order_by("pk")}
        followups = {f.pk: f for f in FollowUp.objects.select_for_update(of=("self",)).filter(ids_q("pk", followup_ids))
                     .select_related("cadence_step").order_by("pk")}
        executed: set[int] = set()
        for fu in followups.values():
            if fu.status != FollowUpStatus.RUNNING:
                outcomes[fu.pk] = "not-claimed"
                continue
            try:
                with transaction.atomic():
                    outcome = message_create(followup=fu, case=cases[fu.case_id], now=now)
                    if outcome == "rescheduled":
                        fu.status, fu.claimed_at = FollowUpStatus.PENDING, None
                        fu.save(update_fields=["status", "claimed_at", "due_at", "policy_reason"])
                    else:
                        fu.status = FollowUpStatus.DONE if outcome == "queued" else (
                            FollowUpStatus.CANCELLED if outcome == "blocked" else FollowUpStatus.SKIPPED)
                        fu.completed_at = now
                        fu.save(update_fields=["status", "completed_at", "result"])
                    audit_record(actor=None, action=f"followup.{outcome}", obj=fu,
                                 after={"status": fu.status, "result": fu.result}, at=now)
            except Exception:
                if len(followup_ids) == 1:
                    raise
                log.exception("follow-up %s failed; it stays claimed until its lease expires", fu.pk)
                outcomes[fu.pk] = "failed"
                continue
            outcomes[fu.pk] = outcome
            executed.add(fu.case_id)
        if executed:
            followups_plan(case_ids=sorted(executed), now=now)
    return outcomes


FOLLOWUP_RESULT_MAX_LENGTH = 200  # FollowUp.result's max_length


def followup_complete(*, followup_id: int, actor, now: dt.datetime, result: str = "") -> FollowUp:
    """An agent marks a task done without logging a contact (e.g. the consequence was applied)."""
    if len(result) > FOLLOWUP_RESULT_MAX_LENGTH:
        raise ValidationError({"result": _("The result is limited to %(n)d characters (it has %(len)d).") % {
            "n": FOLLOWUP_RESULT_MAX_LENGTH, "len": len(result)}})
    case_id = FollowUp.objects.filter(pk=followup_id).values_list("case_id", flat=True).first()
    if case_id is None:
        raise ValidationError(_("This follow-up does not exist."))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        fu = FollowUp.objects.select_for_update().get(pk=followup_id)
        if fu.status != FollowUpStatus.PENDING or fu.kind != StepKind.AGENT_TASK:
            raise ValidationError(_("Only a scheduled agent task can be marked done."))
        fu.status, fu.completed_at, fu.completed_by, fu.result = FollowUpStatus.DONE, now, actor, result
        fu.save(update_fields=["status", "completed_at", "completed_by", "result"])
        audit_record(actor=actor, action="followup.completed", obj=fu, after={"status": fu.status, "result": fu.result}, at=now)
        followups_plan(case_ids=[case.pk], now=now, actor=actor)
    return fu
