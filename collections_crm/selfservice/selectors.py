"""Reads for the portal: the link a visit holds with its case, the debtor's cases it may see, and
what a case page shows. Each in a fixed number of queries, whatever the history's size."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from cases.choices import BarrierStatus, CaseStatus, PlanStatus, PromiseStatus
from cases.models import Case, Instalment, PaymentPlan

from .models import Checkout, CheckoutStatus, PortalLink


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
