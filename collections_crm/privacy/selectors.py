"""Reads for data protection: the erasure decision's inputs, the debtors due for erasure, the
admin area's search, and the export document (everything held about one debtor, GDPR art. 15).

They span every record about a person (debtors, cases, the engine's contact attempts, messages
and follow-ups), which is why this app sits above the engine."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce

from cases.choices import CaseStatus
from cases.models import Barrier, Case, Creditor, Instalment, Payment, PaymentPlan, PromiseToPay
from collections_crm.audit.models import AuditLog
from collections_crm.audit.services import snapshot
from collections_crm.selfservice.models import Checkout, PortalUpload
from contacts.models import ContactAttempt, ContactRefusal, FollowUp, OutboundMessage
from debtors.models import Debtor
from debtors.retention import DEFAULT_RETENTION_DAYS, CaseRetention, Erasability, erasability
from debtors.selectors import debtor_get
from debtors.validators import normalise_document

EXPORT_FORMAT = "collections-crm.debtor-export"
EXPORT_VERSION = 1


def debtor_case_retention(*, debtor_id: int) -> list[CaseRetention]:
    rows = (
        Case.objects.filter(debtor_id=debtor_id).order_by("pk")
        .annotate(closed=Coalesce("closed_at", "updated_at"))
        .values_list("pk", "creditor_id", "status", "closed", "creditor__retention_days", "reference", "creditor__name")
    )
    open_values = set(CaseStatus.open_values())
    return [
        CaseRetention(case_id=pk, creditor_id=creditor_id, is_open=status in open_values,
                      closed_at=None if status in open_values else closed, retention_days=days,
                      reference=reference, creditor_name=creditor_name, status_label=str(CaseStatus(status).label))
        for pk, creditor_id, status, closed, days, reference, creditor_name in rows
    ]


def debtor_erasability(*, debtor: Debtor, now: dt.datetime, cases: list[CaseRetention] | None = None) -> Erasability:
    if cases is None:
        cases = debtor_case_retention(debtor_id=debtor.pk)
    return erasability(cases=cases, legal_hold=debtor.legal_hold, anonymised=debtor.anonymised_at is not None,
                       created_at=debtor.created_at, now=now)


def debtors_due_for_erasure(*, now: dt.datetime, after_id: int = 0, limit: int = 200) -> list[int]:
    """Ids of debtors whose retention has passed, in id order from ``after_id``: the same rule as
    retention.erasability, in SQL. Creditors are few, so each one's cutoff is computed here and
    "a case still inside its retention" is one OR of (creditor, closed after its cutoff)."""
    cases = Case.objects.filter(debtor_id=OuterRef("pk"))
    still_kept = Q(status__in=CaseStatus.open_values())
    for creditor_id, days in Creditor.objects.values_list("pk", "retention_days"):
        still_kept |= Q(creditor_id=creditor_id, closed__gt=now - dt.timedelta(days=days))
    kept_cases = cases.annotate(closed=Coalesce("closed_at", "updated_at")).filter(still_kept)
    no_case_expired = Q(created_at__lte=now - dt.timedelta(days=DEFAULT_RETENTION_DAYS))
    return list(
        Debtor.objects.filter(anonymised_at__isnull=True, legal_hold=False, pk__gt=after_id)
        .filter(Q(Exists(cases)) | no_case_expired)
        .exclude(Exists(kept_cases))
        .order_by("pk").values_list("pk", flat=True)[:limit]
    )


def debtor_privacy_search(*, q: str, limit: int = 50) -> QuerySet[Debtor]:
    """Debtors by id ("#12" or "12"), identity document or name, for the data-protection page."""
    q = q.strip()
    if not q:
        return Debtor.objects.none()
    match = Q(document_number=normalise_document(q)) | Q(name__icontains=q)
    if q.lstrip("#").isdigit():
        match |= Q(pk=int(q.lstrip("#")))
    return Debtor.objects.filter(match).order_by("name", "pk")[:limit]


def debtor_audit_rows(*, debtor_id: int, contact_point_ids: list[int], case_ids: list[int]) -> QuerySet[AuditLog]:
    """Audit rows about the debtor, their contact points and their cases (served by
    audit_object_idx and audit_case_idx)."""
    about = Q(object_type="debtors.debtor", object_id=str(debtor_id)) | Q(case_id__in=case_ids)
    if contact_point_ids:
        about |= Q(object_type="debtors.contactpoint", object_id__in=[str(i) for i in contact_point_ids])
    return AuditLog.objects.filter(about).order_by("at", "pk")


def _rows(queryset, **extra) -> list[dict[str, Any]]:
    return [{**snapshot(obj), **{k: f(obj) for k, f in extra.items()}} for obj in queryset]


def debtor_export_document(*, debtor_id: int, now: dt.datetime) -> dict[str, Any]:
    """Everything held about one debtor, as one JSON-safe document (the right of access, GDPR
    art. 15). Staff appear by id only: their names are not the debtor's data.

    Queries, whatever the size of the history (16): debtor, contact points, cases with
    creditors, promises, plans, instalments, payments, barriers, contact attempts, their
    techniques, messages, refusals, follow-ups, online payments, files sent on the portal,
    audit rows. (Personal links are our credentials, not the debtor's data: their use is in the
    audit rows.)"""
    debtor = debtor_get(debtor_id=debtor_id)
    points = list(debtor.contact_points.order_by("pk"))
    cases = list(Case.objects.filter(debtor_id=debtor.pk).select_related("creditor").order_by("pk"))
    case_ids = [c.pk for c in cases]

    def by_case(queryset, **extra) -> dict[int, list]:
        grouped: dict[int, list] = {pk: [] for pk in case_ids}
        for row in _rows(queryset.filter(case_id__in=case_ids).order_by("pk"), **extra):
            grouped[row["case_id"]].append(row)
        return grouped

    plans = by_case(PaymentPlan.objects.all())
    instalments: dict[int, list] = {}
    for row in _rows(Instalment.objects.filter(plan__case_id__in=case_ids).order_by("plan_id", "number")):
        instalments.setdefault(row["plan_id"], []).append(row)
    for rows in plans.values():
        for plan in rows:
            plan["instalments"] = instalments.get(plan["id"], [])
    sections = {
        "promises": by_case(PromiseToPay.objects.all()),
        "plans": plans,
        "payments": by_case(Payment.objects.all()),
        "barriers": by_case(Barrier.objects.all()),
        "contact_attempts": by_case(ContactAttempt.objects.prefetch_related("techniques"),
                                    techniques=lambda a: sorted(t.code for t in a.techniques.all())),
        "messages": by_case(OutboundMessage.objects.all()),
        "contact_refusals": by_case(ContactRefusal.objects.all()),
        "follow_ups": by_case(FollowUp.objects.all()),
        "online_payments": by_case(Checkout.objects.all()),
        "portal_uploads": by_case(PortalUpload.objects.all()),
    }
    audit = [
        {"id": a.pk, "at": a.at.isoformat(), "actor_id": a.actor_id, "action": a.action, "object_type": a.object_type,
         "object_id": a.object_id, "case_id": a.case_id, "before": a.before, "after": a.after}
        for a in debtor_audit_rows(debtor_id=debtor.pk, contact_point_ids=[p.pk for p in points], case_ids=case_ids)
    ]
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "generated_at": now.isoformat(),
        "debtor": snapshot(debtor),
        "contact_points": _rows(points),
        "cases": [
            {**snapshot(case), "creditor": {"id": case.creditor_id, "code": case.creditor.code, "name": case.creditor.name},
             **{name: rows[case.pk] for name, rows in sections.items()}}
            for case in cases
        ],
        "audit_log": audit,
    }
