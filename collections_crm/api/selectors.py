"""What an API caller may see: the same visibility as the pages, narrowed to the token's
creditor for integrations."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from cases.models import Case, Creditor, Payment, PaymentPlan, PromiseToPay
from cases.selectors import case_visibility_q
from contacts.models import ContactAttempt, FollowUp, MessageTemplate, OutboundMessage
from debtors.models import ContactPoint, Debtor

from .models import ApiToken


def token_creditor_id(request) -> int | None:
    return request.auth.creditor_id if isinstance(request.auth, ApiToken) else None


def cases_for(request, *, for_write: bool = False) -> QuerySet[Case]:
    qs = Case.objects.filter(case_visibility_q(user=request.user, for_write=for_write))
    creditor_id = token_creditor_id(request)
    if creditor_id is not None:
        qs = qs.filter(creditor_id=creditor_id)
    return qs


def creditors_for(request) -> QuerySet[Creditor]:
    creditor_id = token_creditor_id(request)
    qs = Creditor.objects.all()
    return qs.filter(pk=creditor_id) if creditor_id is not None else qs


def debtors_for(request, *, for_write: bool = False) -> QuerySet[Debtor]:
    """Debtors with at least one case the caller may see (or act on)."""
    visible = cases_for(request, for_write=for_write).filter(debtor_id=OuterRef("pk"))
    return Debtor.objects.filter(Exists(visible)).prefetch_related(
        Prefetch("contact_points", queryset=ContactPoint.objects.order_by("-is_primary", "kind", "id"))
    )


def attempts_for(request) -> QuerySet[ContactAttempt]:
    return ContactAttempt.objects.filter(case__in=cases_for(request)).prefetch_related("techniques").select_related("excuse_category")


def promises_for(request) -> QuerySet[PromiseToPay]:
    return PromiseToPay.objects.filter(case__in=cases_for(request))


def plans_for(request, *, for_write: bool = False) -> QuerySet[PaymentPlan]:
    return PaymentPlan.objects.filter(case__in=cases_for(request, for_write=for_write)).prefetch_related("instalments")


def payments_for(request) -> QuerySet[Payment]:
    return Payment.objects.filter(case__in=cases_for(request))


def templates_for(request) -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.select_related("current_version")


def followups_for(request) -> QuerySet[FollowUp]:
    return FollowUp.objects.filter(case__in=cases_for(request))


def messages_for(request) -> QuerySet[OutboundMessage]:
    return OutboundMessage.objects.filter(case__in=cases_for(request)).select_related("template_version")


def imports_for(request):
    from collections_crm.imports.models import ImportJob

    qs = ImportJob.objects.all()
    creditor_id = token_creditor_id(request)
    return qs.filter(creditor_id=creditor_id) if creditor_id is not None else qs
