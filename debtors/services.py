from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from collections_crm.audit.services import audit_record, audited_save, snapshot

from . import hooks
from .models import DEBTOR_FLAGS, ContactPoint, Debtor


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


def debtor_get_or_create(
    *, actor, document_type: str, document_number: str, contact_points: list[dict] | None = None,
    now: dt.datetime | None = None, **defaults,
) -> tuple[Debtor, bool]:
    """The debtor with this identity document, created with ``defaults`` if new. An existing
    debtor keeps its details (agents may have corrected them); new contact points are added."""
    from .validators import normalise_contact_value, normalise_document

    now = now or timezone.now()
    number = normalise_document(document_number)
    with transaction.atomic():
        debtor = Debtor.objects.filter(document_type=document_type, document_number=number).first()
        if debtor is None:
            return debtor_create(actor=actor, document_type=document_type, document_number=number,
                                 contact_points=contact_points, now=now, **defaults), True
        known = set(debtor.contact_points.values_list("kind", "value"))
        for cp in contact_points or []:
            if (cp["kind"], normalise_contact_value(cp["kind"], cp["value"], country=debtor.country)) not in known:
                contact_point_add(actor=actor, debtor=debtor, now=now, **cp)
    return debtor, False


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
        # Saved even when no flag moves: updated_at moves on every call.
        _b, a = audited_save(obj=debtor, changes={k: bool(v) for k, v in flags.items()}, fields=list(flags), actor=actor,
                             action="debtor.flags_changed", at=now, clean=False, save_unchanged=True)
        if a:
            debtor_cases_replan(actor=actor, debtor_id=debtor.pk, now=now)
    return debtor


# Debtor fields the follow-up engine and the contact policy read: a change replans the cases.
PLANNING_FIELDS = {*DEBTOR_FLAGS, "timezone", "country"}


def debtor_cases_replan(*, actor, debtor_id: int, now: dt.datetime) -> int:
    """Replan the debtor's open cases at once, in the caller's transaction (the flag and the
    plans commit together): a cease-communication or deceased flag cancels the scheduled
    contacts of every case of the debtor now, not at the next sweep, and lifting it schedules
    the next steps again. The case layer answers (debtors.hooks), with the one planning path."""
    return hooks.debtor_cases_replan(debtor_id=debtor_id, now=now, actor=actor)


def contact_point_set_flags(*, actor, contact_point_id: int, now: dt.datetime | None = None, **flags: bool) -> ContactPoint:
    allowed = {"verified", "consent", "opted_out", "do_not_contact", "is_primary"}
    if set(flags) - allowed:
        raise ValueError(f"Unknown contact point flags: {sorted(set(flags) - allowed)}")
    now = now or timezone.now()
    with transaction.atomic():
        point = ContactPoint.objects.select_for_update().get(pk=contact_point_id)
        audited_save(obj=point, changes={k: bool(v) for k, v in flags.items()}, fields=sorted(flags), actor=actor,
                     action="contact_point.flags_changed", at=now, clean=False)
    return point


class DebtorStaleError(ValidationError):
    """The debtor changed since it was read; the caller must reload."""

    def __init__(self):
        super().__init__(_("Someone else changed this debtor meanwhile. Reload and try again."), code="stale")


DEBTOR_EDITABLE = ["name", "kind", "country", "timezone", "language", "notes", *DEBTOR_FLAGS]
# Values of these fields are personal data: the audit row says that they changed, not to what.
DEBTOR_PRIVATE = {"name", "notes"}


def debtor_update(
    *, actor, debtor_id: int, changes: dict, expected_updated_at: dt.datetime | None = None, now: dt.datetime | None = None
) -> Debtor:
    """Edit a debtor's details and contact flags. ``expected_updated_at`` refuses a write based
    on an older read."""
    unknown = set(changes) - set(DEBTOR_EDITABLE)
    if unknown:
        raise ValueError(f"Not editable here: {sorted(unknown)}")
    now = now or timezone.now()
    with transaction.atomic():
        debtor = Debtor.objects.select_for_update().get(pk=debtor_id)
        if expected_updated_at is not None and debtor.updated_at != expected_updated_at:
            raise DebtorStaleError()
        _b, a = audited_save(obj=debtor, changes=changes, fields=DEBTOR_EDITABLE, actor=actor, action="debtor.updated", at=now,
                             validate_unique=False, private=DEBTOR_PRIVATE)
        if PLANNING_FIELDS & set(a):
            debtor_cases_replan(actor=actor, debtor_id=debtor.pk, now=now)
    return debtor


# --- Data protection: legal hold, export, anonymisation ------------------------------------------
def debtor_set_legal_hold(*, actor, debtor_id: int, hold: bool, reason: str = "", now: dt.datetime | None = None) -> Debtor:
    """Set or lift the legal hold that keeps a debtor's data past its retention. The reason (a
    reference such as a court file number) is kept in the audit row: it is why erasure waited."""
    now = now or timezone.now()
    reason = reason.strip()
    if hold and not reason:
        raise ValidationError({"reason": _("Say why the data must be kept (e.g. a court file number).")})
    with transaction.atomic():
        debtor = Debtor.objects.select_for_update().get(pk=debtor_id)
        if debtor.anonymised_at is not None:
            raise ValidationError(_("This debtor's personal data was anonymised; there is nothing left to hold."))
        audited_save(obj=debtor, changes={"legal_hold": hold, "legal_hold_reason": reason if hold else ""},
                     fields=["legal_hold", "legal_hold_reason"], actor=actor,
                     action="debtor.legal_hold_set" if hold else "debtor.legal_hold_lifted", at=now, clean=False)
    return debtor
