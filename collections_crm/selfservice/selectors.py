"""Reads of self-service. For the portal: the link a visit holds with its case, the debtor's cases
it may see, and what a case page shows. For staff: a case's personal links, online payments and
the files the debtor sent, as the case page shows them (visibility is the caller's: pass a case the
user may see, cases.selectors.case_get_for_user). Each in a fixed number of queries, whatever the
history's size."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Case as SqlCase
from django.db.models import Count, Prefetch, Q, QuerySet, Value, When
from django.http import Http404

from cases.choices import BarrierStatus, CaseStatus, PlanStatus, PromiseStatus
from cases.models import Case, Instalment, PaymentPlan

from .models import Checkout, CheckoutStatus, PortalLink, PortalUpload


def link_with_case(*, link_id: int) -> PortalLink | None:
    """The link, its case, the case's debtor and creditor: one query."""
    return PortalLink.objects.select_related("case__debtor", "case__creditor").filter(pk=link_id).first()


def portal_cases(*, case: Case) -> QuerySet[Case]:
    """What a verified visit may see: the open cases of the link's debtor with the link's
    creditor (never another creditor's, never another debtor's)."""
    return (Case.objects.filter(debtor_id=case.debtor_id, creditor_id=case.creditor_id, status__in=CaseStatus.open_values())
            .select_related("creditor").order_by("due_date", "id"))


def portal_case(*, case: Case, case_id: int) -> Case | None:
    if case_id == case.pk and case.status in CaseStatus.open_values():
        return case
    return portal_cases(case=case).select_related("debtor").filter(pk=case_id).first()


def case_page(*, case: Case, history: int = 20) -> dict[str, Any]:
    """What the debtor's case page shows: payments (the latest ``history``), the pending promise,
    the live plan with its instalments, online payments waiting for the provider, what they asked
    for. Five queries."""
    payments = list(case.payments.order_by("-received_on", "-id")[:history])
    promise = case.promises.filter(status=PromiseStatus.PENDING).order_by("due_date").first()
    plan = (PaymentPlan.objects.filter(case=case, status__in=[PlanStatus.ACTIVE, PlanStatus.PROPOSED])
            .prefetch_related(Prefetch("instalments", queryset=Instalment.objects.order_by("number"))).first())
    pending = list(Checkout.objects.filter(case=case, status=CheckoutStatus.PENDING).order_by("-created_at")[:3])
    asked = list(case.barriers.filter(status=BarrierStatus.OPEN).order_by("-opened_at")[:10])
    return {"payments": payments, "promise": promise, "plan": plan, "pending_checkouts": pending, "asked": asked,
            "paid_total": case.original_amount + case.fees - case.balance}


def checkout_for_visit(*, case: Case, public_id) -> Checkout | None:
    """A checkout of one of the visit's cases."""
    return (Checkout.objects.select_related("case").filter(public_id=public_id, case__debtor_id=case.debtor_id,
                                                           case__creditor_id=case.creditor_id).first())


# The case page lists the newest rows only (a link is issued with every message that carries one,
# so a long case has many); the counts say how many there are in all.
PANEL_LINKS = 10
PANEL_CHECKOUTS = 10
PANEL_UPLOADS = 20


def case_selfservice_panel(*, case: Case, now: dt.datetime) -> dict:
    """The case page's self-service panel in four queries whatever the history: the link counts,
    the newest links, the newest online payments (with any refused one first: money taken but not
    posted needs a person) and the newest files."""
    counts = PortalLink.objects.filter(case=case).aggregate(
        total=Count("id"),
        working=Count("id", filter=Q(revoked_at__isnull=True, expires_at__gt=now)),
    )
    links = list(PortalLink.objects.filter(case=case).select_related("created_by", "revoked_by")[:PANEL_LINKS])
    for link in links:
        link.working = link.revoked_at is None and link.expires_at > now  # type: ignore[attr-defined]  # for the template
    refused_first = SqlCase(When(status=CheckoutStatus.REFUSED, then=Value(0)), default=Value(1))
    checkouts = list(Checkout.objects.filter(case=case).order_by(refused_first, "-created_at", "-id")[:PANEL_CHECKOUTS])
    uploads = list(PortalUpload.objects.filter(case=case)[:PANEL_UPLOADS])
    return {
        "links": links,
        "links_total": counts["total"],
        "links_working": counts["working"],
        "checkouts": checkouts,
        "refused": [c for c in checkouts if c.status == CheckoutStatus.REFUSED],
        "uploads": uploads,
    }


def upload_get_for_case(*, case: Case, upload_id: int) -> PortalUpload:
    """One file the debtor sent for ``case``, or 404 (a file of another case is never served
    through this one)."""
    upload = PortalUpload.objects.filter(case=case, pk=upload_id).first()
    if upload is None:
        raise Http404
    return upload
