"""Reads of self-service for staff: a case's personal links, online payments and the files the
debtor sent, as the case page shows them. Visibility is the caller's: pass a case the user may see
(cases.selectors.case_get_for_user)."""

from __future__ import annotations

import datetime as dt

from django.db.models import Case as SqlCase
from django.db.models import Count, Q, Value, When
from django.http import Http404

from cases.models import Case

from .models import Checkout, CheckoutStatus, PortalLink, PortalUpload

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
