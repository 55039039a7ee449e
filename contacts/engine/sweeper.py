"""The sweeper: claims and leases.

Owns which automatic steps are due and who runs them: ``followups_claim_due`` (pending → running,
FOR UPDATE SKIP LOCKED), ``followups_reclaim_stale`` (a lease that expired is handed out again),
``claim_lease`` (how long a claim lasts; the outbox uses it too) and ``cases_replan_forgotten``,
the safety net for workable cases left with no next step."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from cases.choices import (
    CaseStatus,
)
from cases.models import Case
from debtors.models import contact_paused_q

from ..models import (
    FollowUp,
    FollowUpStatus,
    StepKind,
)
from .planning import LIVE, followups_plan


def claim_lease() -> dt.timedelta:
    """How long a claimed row belongs to its worker before the sweeper hands it out again. It must
    exceed the task hard time limit so that a slow task is not run twice at once."""
    return dt.timedelta(seconds=settings.CRM_CLAIM_LEASE_SECONDS)


def followups_claim_due(*, now: dt.datetime, limit: int = 500) -> list[int]:
    """Claim due automatic follow-ups (pending → running) and return their ids. FOR UPDATE SKIP
    LOCKED lets two sweepers run at once without claiming the same row; the conditional update
    makes a second claim of a row a no-op anyway."""
    with transaction.atomic():
        ids = list(
            FollowUp.objects.select_for_update(skip_locked=True)
            .filter(status=FollowUpStatus.PENDING, kind=StepKind.AUTOMATIC, due_at__lte=now)
            .order_by("due_at").values_list("pk", flat=True)[:limit]
        )
        FollowUp.objects.filter(pk__in=ids, status=FollowUpStatus.PENDING).update(status=FollowUpStatus.RUNNING, claimed_at=now)
    return ids


def followups_reclaim_stale(*, now: dt.datetime, limit: int = 500) -> list[int]:
    """Running rows whose worker died or whose task was lost (Redis flushed) are handed out again
    once their lease has expired."""
    with transaction.atomic():
        ids = list(
            FollowUp.objects.select_for_update(skip_locked=True)
            .filter(status=FollowUpStatus.RUNNING, claimed_at__lt=now - claim_lease())
            .order_by("claimed_at").values_list("pk", flat=True)[:limit]
        )
        FollowUp.objects.filter(pk__in=ids, status=FollowUpStatus.RUNNING).update(claimed_at=now)
    return ids


def cases_replan_forgotten(*, now: dt.datetime, limit: int = 2000) -> int:
    """Safety net for "never wait and see": workable cases with no live follow-up whose next
    action is missing or past (e.g. a do-not-contact flag was lifted) are planned again."""
    ids = list(
        Case.objects.filter(status__in=CaseStatus.workable_values())
        .filter(Q(next_action_at__isnull=True) | Q(next_action_at__lte=now))
        .exclude(followups__status__in=LIVE)
        # Paused by a debtor flag: nothing to plan until the flag is lifted.
        .exclude(contact_paused_q("debtor__"))
        .order_by("next_action_at").values_list("pk", flat=True)[:limit]
    )
    if ids:
        followups_plan(case_ids=ids, now=now)
    return len(ids)
