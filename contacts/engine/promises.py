"""Promise monitoring.

Owns ``promises_sweep``: after the grace period, unpaid promises are broken (partial if partly
paid), unpaid instalments missed and plans with too many missed instalments defaulted; a case left
without a commitment goes back to active through the case layer's one status write path
(cases.services.cases_change_status); every touched case is replanned."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count, Q

from cases.choices import (
    CaseStatus,
    InstalmentStatus,
    PlanStatus,
    PromiseStatus,
)
from cases.models import Instalment, PaymentPlan, PromiseToPay
from cases.services import cases_change_status
from collections_crm.audit.services import audit_record
from debtors.models import contact_paused_q

from ..models import (
    FollowUpSettings,
)
from .planning import followups_plan


def promises_sweep(*, now: dt.datetime, limit: int = 2000) -> dict[str, int]:
    """The day after the grace period: unpaid promises are broken (partial if partly paid),
    unpaid instalments missed, and a plan with enough missed instalments defaulted. Each
    affected case is replanned at once. Guarded updates make a second run a no-op."""
    conf = FollowUpSettings.objects.filter(pk=1).first() or FollowUpSettings()
    cutoff = (now - dt.timedelta(days=conf.promise_grace_days)).date()
    counts = {"broken": 0, "partial": 0, "missed": 0, "defaulted": 0}
    touched: set[int] = set()
    # Nothing breaks while its case is paused (a dispute, a hold, a debtor flag): the planner
    # moves or re-evaluates these commitments when the pause lifts (FollowUpSettings.paused_commitments).
    workable = Q(case__status__in=CaseStatus.workable_values()) & ~contact_paused_q("case__debtor__")
    with transaction.atomic():
        for promise in PromiseToPay.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            workable, status=PromiseStatus.PENDING, due_date__lt=cutoff
        ).order_by("due_date")[:limit]:
            new = PromiseStatus.PARTIAL if promise.amount_paid > 0 else PromiseStatus.BROKEN
            PromiseToPay.objects.filter(pk=promise.pk, status=PromiseStatus.PENDING).update(status=new, resolved_at=now)
            audit_record(actor=None, action=f"promise.{new}", obj=promise, before={"status": "pending"}, after={"status": new}, at=now)
            counts[new] += 1
            touched.add(promise.case_id)
        plan_workable = Q(plan__case__status__in=CaseStatus.workable_values()) & ~contact_paused_q("plan__case__debtor__")
        for inst in Instalment.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            plan_workable, plan__status=PlanStatus.ACTIVE, status__in=[InstalmentStatus.PENDING, InstalmentStatus.PARTIAL],
            due_date__lt=cutoff
        ).select_related("plan")[:limit]:
            Instalment.objects.filter(pk=inst.pk, status=inst.status).update(status=InstalmentStatus.MISSED)
            audit_record(actor=None, action="instalment.missed", obj=inst, before={"status": inst.status},
                         after={"status": "missed"}, case_id=inst.plan.case_id, at=now)
            counts["missed"] += 1
            touched.add(inst.plan.case_id)
        for plan in PaymentPlan.objects.filter(case_id__in=touched, status=PlanStatus.ACTIVE).annotate(
            missed=Count("instalments", filter=Q(instalments__status=InstalmentStatus.MISSED))
        ).filter(missed__gte=conf.missed_instalments_to_default):
            PaymentPlan.objects.filter(pk=plan.pk, status=PlanStatus.ACTIVE).update(status=PlanStatus.DEFAULTED)
            audit_record(actor=None, action="plan.defaulted", obj=plan, before={"status": "active"}, after={"status": "defaulted"}, at=now)
            counts["defaulted"] += 1
        # A case whose commitments are all gone is worked again.
        still_promised = set(PromiseToPay.objects.filter(case_id__in=touched, status=PromiseStatus.PENDING).values_list("case_id", flat=True))
        still_plan = set(PaymentPlan.objects.filter(case_id__in=touched, status=PlanStatus.ACTIVE).values_list("case_id", flat=True))
        for status, still in ((CaseStatus.PROMISED, still_promised), (CaseStatus.PLAN, still_plan)):
            cases_change_status(case_ids=sorted(touched - still), from_status=status, status=CaseStatus.ACTIVE, actor=None, now=now)
        if touched:
            followups_plan(case_ids=sorted(touched), now=now)
    return counts
