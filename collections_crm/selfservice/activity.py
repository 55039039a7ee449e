"""Portal activity and staff looks: what the queue's "portal activity since my last look" reads.

The portal's services call ``case_portal_touch`` in the transaction of each debtor act worth an
agent's attention (the first opening of a link, an identity confirmed, failed or locked, a
payment, a promise, a plan, a dispute, a document asked for, a file sent, new preferences; not
every page view). The desk calls ``case_look_record`` when a staff user opens the case page. The
filter then compares two small rows per case instead of scanning the audit trail."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from .models import CaseLook, PortalActivity


def case_portal_touch(*, case_id: int, now: dt.datetime | None = None) -> None:
    """Record that the debtor acted on the portal for the case at ``now``: one upsert, never
    moving the time backwards (a late callback does not hide a newer act)."""
    now = now or timezone.now()
    if PortalActivity.objects.filter(case_id=case_id).update(last_at=Greatest(F("last_at"), Value(now))):
        return
    PortalActivity.objects.bulk_create([PortalActivity(case_id=case_id, last_at=now)], ignore_conflicts=True)
    # Another transaction may have inserted the row first: keep the later time.
    PortalActivity.objects.filter(case_id=case_id, last_at__lt=now).update(last_at=now)


def case_look_record(*, user, case_id: int, now: dt.datetime | None = None) -> None:
    """The staff ``user`` opened the case's page at ``now`` (one upsert)."""
    if not getattr(user, "pk", None):
        return
    CaseLook.objects.bulk_create(
        [CaseLook(user_id=user.pk, case_id=case_id, looked_at=now or timezone.now())],
        update_conflicts=True, unique_fields=["user", "case"], update_fields=["looked_at"],
    )


def portal_unseen_q(*, user) -> Q:
    """Cases with portal activity after ``user`` last opened them (or never opened by them).
    Served by the primary key of PortalActivity (the few cases with any portal activity) and the
    unique (user, case) of CaseLook."""
    seen = CaseLook.objects.filter(user_id=user.pk, case_id=OuterRef("pk"), looked_at__gte=OuterRef("portal_activity__last_at"))
    return Q(portal_activity__last_at__isnull=False) & ~Q(Exists(seen))
