from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from collections_crm.audit.services import audit_record, diff, snapshot

from .models import ContactPoint, Debtor

DEBTOR_FLAGS = ["do_not_contact", "cease_communication", "attorney_represented", "deceased", "bankruptcy"]


def debtor_create(*, actor, contact_points: list[dict] | None = None, now: dt.datetime | None = None, **fields) -> Debtor:
    now = now or timezone.now()
    debtor = Debtor(**fields)
    debtor.full_clean()
    with transaction.atomic():
        debtor.save()
        audit_record(actor=actor, action="debtor.created", obj=debtor, after=snapshot(debtor, ["kind", "country", "timezone", "language", *DEBTOR_FLAGS]), at=now)
        for cp in contact_points or []:
            contact_point_add(actor=actor, debtor=debtor, now=now, **cp)
    return debtor


def contact_point_add(*, actor, debtor: Debtor, kind: str, value: str, now: dt.datetime | None = None, **fields) -> ContactPoint:
    now = now or timezone.now()
    point = ContactPoint(debtor=debtor, kind=kind, value=value, **fields)
    point.full_clean()
    with transaction.atomic():
        point.save()
        audit_record(actor=actor, action="contact_point.added", obj=point, after=snapshot(point, ["kind", "verified", "consent", "opted_out", "do_not_contact"]), case_id=None, at=now)
    return point


def debtor_set_flags(*, actor, debtor_id: int, now: dt.datetime | None = None, **flags: bool) -> Debtor:
    """Set do-not-contact, cease-communication and the other flags that stop contact."""
    unknown = set(flags) - set(DEBTOR_FLAGS)
    if unknown:
        raise ValueError(f"Unknown debtor flags: {sorted(unknown)}")
    now = now or timezone.now()
    with transaction.atomic():
        debtor = Debtor.objects.select_for_update().get(pk=debtor_id)
        before = snapshot(debtor, DEBTOR_FLAGS)
        for name, value in flags.items():
            setattr(debtor, name, bool(value))
        debtor.save(update_fields=[*flags, "updated_at"])
        b, a = diff(before, snapshot(debtor, DEBTOR_FLAGS))
        if a:
            audit_record(actor=actor, action="debtor.flags_changed", obj=debtor, before=b, after=a, at=now)
    return debtor


def contact_point_set_flags(*, actor, contact_point_id: int, now: dt.datetime | None = None, **flags: bool) -> ContactPoint:
    allowed = {"verified", "consent", "opted_out", "do_not_contact", "is_primary"}
    if set(flags) - allowed:
        raise ValueError(f"Unknown contact point flags: {sorted(set(flags) - allowed)}")
    now = now or timezone.now()
    with transaction.atomic():
        point = ContactPoint.objects.select_for_update().get(pk=contact_point_id)
        before = snapshot(point, sorted(allowed))
        for name, value in flags.items():
            setattr(point, name, bool(value))
        point.save(update_fields=list(flags))
        b, a = diff(before, snapshot(point, sorted(allowed)))
        if a:
            audit_record(actor=actor, action="contact_point.flags_changed", obj=point, before=b, after=a, at=now)
    return point
