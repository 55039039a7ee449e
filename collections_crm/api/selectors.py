"""What an API caller may see: the same visibility as the pages, narrowed to the token's
creditor for integrations.

Every selector takes keyword arguments only: ``user`` (whose visibility rules apply, where
they depend on the user) and ``creditor_id`` (the API token's creditor, or ``None`` for a
browser session). The views pass
``request.user`` and the token's creditor; no selector sees the HTTP request."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from cases.models import Case, Creditor, Payment, PaymentPlan, PromiseToPay
from cases.selectors import case_visibility_q
from collections_crm.accounts.models import User
from collections_crm.imports.models import ImportJob
from contacts.models import ContactAttempt, FollowUp, MessageTemplate, OutboundMessage
from debtors.models import ContactPoint, Debtor


def cases_for(*, user: User, creditor_id: int | None, for_write: bool = False) -> QuerySet[Case]:
    """The cases ``user`` may see (or, ``for_write``, act on), within ``creditor_id`` if given."""
    qs = Case.objects.filter(case_visibility_q(user=user, for_write=for_write))
    if creditor_id is not None:
        qs = qs.filter(creditor_id=creditor_id)
    return qs


def creditors_for(*, creditor_id: int | None) -> QuerySet[Creditor]:
    """Every creditor for a session (the list is reference data); the token's own for a token."""
    qs = Creditor.objects.all()
    return qs.filter(pk=creditor_id) if creditor_id is not None else qs


def debtors_for(*, user: User, creditor_id: int | None, for_write: bool = False) -> QuerySet[Debtor]:
    """Debtors with at least one case the caller may see (or act on)."""
    visible = cases_for(user=user, creditor_id=creditor_id, for_write=for_write).filter(debtor_id=OuterRef("pk"))
    return Debtor.objects.filter(Exists(visible)).prefetch_related(
        Prefetch("contact_points", queryset=ContactPoint.objects.order_by("-is_primary", "kind", "id"))
    )


def attempts_for(*, user: User, creditor_id: int | None) -> QuerySet[ContactAttempt]:
    return (
        ContactAttempt.objects.filter(case__in=cases_for(user=user, creditor_id=creditor_id))
        .prefetch_related("techniques")
        .select_related("excuse_category")
    )


def promises_for(*, user: User, creditor_id: int | None) -> QuerySet[PromiseToPay]:
    return PromiseToPay.objects.filter(case__in=cases_for(user=user, creditor_id=creditor_id))


def plans_for(*, user: User, creditor_id: int | None, for_write: bool = False) -> QuerySet[PaymentPlan]:
    return PaymentPlan.objects.filter(
        case__in=cases_for(user=user, creditor_id=creditor_id, for_write=for_write)
    ).prefetch_related("instalments")


def payments_for(*, user: User, creditor_id: int | None) -> QuerySet[Payment]:
    return Payment.objects.filter(case__in=cases_for(user=user, creditor_id=creditor_id))


def templates_for() -> QuerySet[MessageTemplate]:
    """Message templates are shared by every creditor and every user."""
    return MessageTemplate.objects.select_related("current_version")


def followups_for(*, user: User, creditor_id: int | None) -> QuerySet[FollowUp]:
    return FollowUp.objects.filter(case__in=cases_for(user=user, creditor_id=creditor_id))


def messages_for(*, user: User, creditor_id: int | None) -> QuerySet[OutboundMessage]:
    return OutboundMessage.objects.filter(case__in=cases_for(user=user, creditor_id=creditor_id)).select_related(
        "template_version"
    )


def imports_for(*, creditor_id: int | None) -> QuerySet[ImportJob]:
    """Import jobs (who may read them at all is the view's role check: admins only)."""
    qs = ImportJob.objects.all()
    return qs.filter(creditor_id=creditor_id) if creditor_id is not None else qs
